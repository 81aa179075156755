import Foundation
import Hummingbird
import NudgeCore
import NudgeStore
import NudgeWorkers
import Prometheus

/// Liveness, readiness, metrics and the OpenAPI document: unauthenticated operational routes.
package struct OpsAPI {
    package let services: NudgeServices

    package func register(_ router: Router<AppContext>, _ routes: RouteTable? = nil) {
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] { routes?.add(.get, path) }
        router.get("/healthz") { _, _ in
            try JSONCoding.response(["status": "ok"])
        }
        router.get("/readyz") { _, _ in
            do {
                try await withTimeout(.seconds(2)) {
                    try await services.db.ping()
                }
                return try JSONCoding.response(["status": "ready"])
            } catch {
                var e = APIError(.serviceUnavailable, "service_unavailable", "The database is not reachable.")
                e.headers[.retryAfter] = "2"
                throw e
            }
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: MetricsRegistry.shared.emitToBuffer()))
            )
        }
        router.get("/openapi.json") { _, _ in
            guard let data = OpenAPIDocument.load(directory: services.config.openAPIPath) else {
                throw APIError(.notFound, "not_found", "OpenAPI document not found.")
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }

    package init(services: NudgeServices) {
        self.services = services
    }
}

package enum OpenAPIDocument {
    package static func load(directory path: String) -> Data? {
        FileManager.default.contents(atPath: path)
    }
}

/// One Prometheus registry per process, bootstrapped into swift-metrics once.
public enum MetricsRegistry {
    public static let shared: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
}
