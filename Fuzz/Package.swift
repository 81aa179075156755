// swift-tools-version: 6.0
// libFuzzer target for the inbound mail parsers (NudgeMIME). Not part of the product build:
// ops/chaos fuzz builds it with `-sanitize=fuzzer,address` and runs it on the shared corpus.
import PackageDescription

let package = Package(
    name: "nudge-fuzz",
    dependencies: [
        .package(name: "nudge", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "NudgeMIMEFuzz",
            dependencies: [.product(name: "NudgeMIME", package: "nudge")]
        ),
    ]
)
