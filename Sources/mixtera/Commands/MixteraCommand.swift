import ArgumentParser
import Mixtera

#if canImport(Glibc)
    import Glibc
#endif

@main
struct MixteraCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mixtera",
        abstract: "Deterministic, per-rank, per-step data-mixture manifests for LLM training.",
        discussion: """
            Typical flow:
              mixtera scan --spec datasets.yaml --catalog catalog.sqlite
              mixtera explain --catalog catalog.sqlite --spec build.yaml
              mixtera build-manifest --catalog catalog.sqlite --spec build.yaml --out manifest
              mixtera replay --manifest manifest --rank 0 --steps 0:2
              mixtera report --manifest manifest --out report.html
            Exit codes: 0 ok, 64 usage, 65 bad data/spec/mismatch, 66 missing input, 70 internal bug,
            73 cannot create output, 74 I/O error, 75 catalog locked.
            """,
        version: mixteraVersion,
        subcommands: [
            ScanCommand.self, CatalogCommand.self, ExplainCommand.self, BuildManifestCommand.self, ReplayCommand.self,
            WhichCommand.self, VerifyCommand.self, DiffCommand.self, ReportCommand.self, ReweightCommand.self,
        ])

    static func main() {
        // A write past a file-size limit (`ulimit -f`) then fails with EFBIG — a clean `io` error,
        // exit 74, temporary output removed — instead of SIGXFSZ killing the process mid-write.
        signal(SIGXFSZ, SIG_IGN)
        Self.main(nil)
    }
}
