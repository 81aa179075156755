import NudgeCore
import NudgeHTTP
import NudgeStore
import NudgeWorkers
import ServiceLifecycle
import Synchronization

/// Opens once the migrations have been applied at start-up. The long-lived loops wait for it, so
/// that none of them queries a table that a migration has yet to create.
public final class SchemaGate: Sendable {
    private let opened = Atomic<Bool>(false)

    public init() {}

    public func open() { opened.store(true, ordering: .releasing) }
    public var isOpen: Bool { opened.load(ordering: .acquiring) }
}

/// Runs `service` once the schema is ready; returns without running it if the process shuts down first.
package struct AfterSchema: Service {
    package let gate: SchemaGate
    package let service: any Service

    package func run() async throws {
        while !gate.isOpen {
            guard !Task.isShuttingDownGracefully && !Task.isCancelled else { return }
            try? await gracefulShutdownOrSleep(.milliseconds(20))
        }
        try await service.run()
    }
}
