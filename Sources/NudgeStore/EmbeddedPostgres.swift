import Foundation
import Logging
import NudgeCore

/// A private PostgreSQL cluster under `NUDGE_DATA_DIR`, used when no `NUDGE_DATABASE_URL` is set.
///
/// Initialised once, started on demand and stopped by whoever started it; a second `nudge`
/// process on the same data dir finds it running and simply connects. When running as root the
/// server runs as the `postgres` OS user (PostgreSQL refuses root).
public struct EmbeddedPostgres: Sendable {
    public struct MissingBinaries: Error, CustomStringConvertible {
        public var description: String {
            "PostgreSQL server binaries not found (looked at `pg_config --bindir` and /usr/lib/postgresql/*/bin): install the Debian package postgresql (apt-get install -y postgresql)"
        }
    }

    public let dataDir: String
    public let durable: Bool
    /// The server's `max_connections`.
    public let maxConnections: Int
    package let logger: Logger

    public init(dataDir: String, durable: Bool = true, maxConnections: Int = 200, logger: Logger) {
        self.dataDir = URL(fileURLWithPath: dataDir).standardizedFileURL.path
        self.durable = durable
        self.maxConnections = maxConnections
        self.logger = logger
    }

    package var clusterDir: String { dataDir + "/pg" }
    package var pgData: String { clusterDir + "/data" }
    package var portFile: String { clusterDir + "/port" }
    public var socketDir: String { clusterDir }
    package var isRoot: Bool { getuid() == 0 }

    public var port: Int {
        (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
    }
    public var socketPath: String { "\(socketDir)/.s.PGSQL.\(port)" }

    package static func binDir() throws -> String {
        if let pgConfig = Shell.which("pg_config"),
            let out = try? Shell.run([pgConfig, "--bindir"])
        {
            let dir = out.trimmingCharacters(in: .whitespacesAndNewlines)
            if FileManager.default.isExecutableFile(atPath: dir + "/initdb") { return dir }
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for v in versions where FileManager.default.isExecutableFile(atPath: "\(root)/\(v)/bin/initdb") {
            return "\(root)/\(v)/bin"
        }
        throw MissingBinaries()
    }

    /// argv that runs a PostgreSQL program as the cluster's owner.
    package func asOwner(_ argv: [String]) -> [String] {
        isRoot ? ["/usr/sbin/runuser", "-u", "postgres", "--"] + argv : argv
    }

    /// True when a postmaster answers on this data dir's socket.
    public func isRunning() throws -> Bool {
        guard FileManager.default.fileExists(atPath: pgData + "/PG_VERSION") else { return false }
        let bin = try Self.binDir()
        return (try? Shell.run(asOwner([bin + "/pg_ctl", "-D", pgData, "status"]))) != nil
            && FileManager.default.fileExists(atPath: socketPath)
    }

    /// Initialises (first time) and starts the cluster. Returns true if this call started it,
    /// so the caller knows whether to stop it on shutdown.
    public func start() throws -> Bool {
        let bin = try Self.binDir()
        let fm = FileManager.default
        try fm.createDirectory(atPath: clusterDir, withIntermediateDirectories: true)
        if isRoot {
            // The postgres user must reach the socket and data through every parent folder.
            try Shell.run(["/bin/chown", "postgres:postgres", clusterDir])
            try Shell.run(["/bin/chmod", "0755", dataDir])
        }
        if !fm.fileExists(atPath: pgData + "/PG_VERSION") {
            logger.info("initialising embedded PostgreSQL", metadata: ["dir": "\(pgData)"])
            var argv = [bin + "/initdb", "-D", pgData, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8"]
            if !durable { argv.append("--no-sync") }
            try Shell.run(asOwner(argv))
            try String(Self.freePort()).write(toFile: portFile, atomically: true, encoding: .utf8)
        }
        if try isRunning() {
            try bootstrapTolerant(bin: bin)
            return false
        }
        var opts = "-p \(port) -k \(socketDir) -c listen_addresses=127.0.0.1 -c max_connections=\(maxConnections)"
        if !durable { opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off" }
        do {
            try Shell.run(asOwner([bin + "/pg_ctl", "-D", pgData, "-l", clusterDir + "/log", "-w", "-t", "60", "-o", opts, "start"]))
        } catch {
            // Another process may have started it between our check and our start.
            if try isRunning() {
                try bootstrapTolerant(bin: bin)
                return false
            }
            throw error
        }
        logger.info("embedded PostgreSQL started", metadata: ["socket": "\(socketPath)"])
        try bootstrapTolerant(bin: bin)
        return true
    }

    /// Bootstrap is idempotent; two processes racing through it may collide once, so retry.
    package func bootstrapTolerant(bin: String) throws {
        do { try bootstrap(bin: bin) } catch {
            Thread.sleep(forTimeInterval: 0.3)
            try bootstrap(bin: bin)
        }
    }

    public func stop() {
        guard let bin = try? Self.binDir() else { return }
        _ = try? Shell.run(asOwner([bin + "/pg_ctl", "-D", pgData, "-m", "fast", "-w", "stop"]))
        logger.info("embedded PostgreSQL stopped")
    }

    /// Roles and database: `nudge` logs in and owns the schema; the API runs as `nudge_api`
    /// (row-level security applies) and workers as `nudge_worker` (BYPASSRLS), switched per transaction.
    package func bootstrap(bin: String) throws {
        let sql = """
            DO $$ BEGIN
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'nudge') THEN CREATE ROLE nudge LOGIN; END IF;
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'nudge_api') THEN CREATE ROLE nudge_api NOLOGIN; END IF;
              IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'nudge_worker') THEN CREATE ROLE nudge_worker NOLOGIN BYPASSRLS; END IF;
            END $$;
            GRANT nudge_api, nudge_worker TO nudge;
            GRANT pg_read_all_stats TO nudge_api, nudge_worker;
            ALTER ROLE nudge SET idle_in_transaction_session_timeout = '120s';
            """
        try Shell.run(
            asOwner([
                bin + "/psql", "-h", socketDir, "-p", String(port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", "-c", sql,
            ]))
        let exists = try Shell.run(
            asOwner([
                bin + "/psql", "-h", socketDir, "-p", String(port), "-U", "postgres", "-d", "postgres", "-tAc",
                "SELECT 1 FROM pg_database WHERE datname = 'nudge'",
            ]))
        if exists.trimmingCharacters(in: .whitespacesAndNewlines) != "1" {
            try Shell.run(asOwner([bin + "/createdb", "-h", socketDir, "-p", String(port), "-U", "postgres", "-O", "nudge", "nudge"]))
        }
    }

    package static func freePort() throws -> Int {
        guard let (fd, port) = boundLoopbackSocket() else { return 54329 }
        close(fd)
        return port
    }

    /// A TCP socket bound to a port of 127.0.0.1 the kernel picked (not listening), and the port.
    /// Kept open, it holds the port: connections to it are refused and nothing else can bind it.
    package static func boundLoopbackSocket() -> (fd: Int32, port: Int)? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else {
            close(fd)
            return nil
        }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

}
