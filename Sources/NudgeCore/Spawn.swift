#if canImport(Glibc)
    import Glibc

    /// What every posix_spawn of the product and its tests shares.
    package enum Spawn {
        /// Adds "close every descriptor from 3 up" to `actions`, so a child inherits nothing but its
        /// standard streams: a daemon holding a pipe or Foundation's per-process exit socket keeps
        /// its reader, or `Process.waitUntilExit`, waiting until the daemon stops.
        package static func closeInherited(_ actions: inout posix_spawn_file_actions_t) {
            _ = closeFrom?(&actions, 3)
        }

        /// glibc's posix_spawn_file_actions_addclosefrom_np (2.34; Debian 12 has 2.36) is declared
        /// only under _GNU_SOURCE, which Swift's Glibc module does not define: looked up by name.
        private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        private static let closeFrom: CloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
            unsafeBitCast($0, to: CloseFrom.self)
        }
    }
#endif
