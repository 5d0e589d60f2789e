import MixteraCore
import Testing

@testable import MixteraFormats

@Suite struct TarLimitsTests {
    struct Case: Sendable, CustomStringConvertible {
        var fixture: String
        var limits: TarLimits
        var byteOffset: Int64
        var message: String
        var description: String { "\(fixture): \(message)" }
    }

    static let cases: [Case] = [
        Case(
            fixture: "python-pax.tar", limits: TarLimits(maxExtensionHeaderByteCount: 100), byteOffset: 9728,
            message: "pax header of 135 bytes exceeds the limit of 100 bytes"),
        Case(
            fixture: "python-gnu.tar", limits: TarLimits(maxExtensionHeaderByteCount: 100), byteOffset: 9728,
            message: "gnu long name header of 126 bytes exceeds the limit of 100 bytes"),
        Case(
            fixture: "python-gnu.tar", limits: TarLimits(maxNameByteCount: 150), byteOffset: 11264,
            message: "name of 216 bytes exceeds the limit of 150 bytes"),
        Case(
            fixture: "python-pax.tar", limits: TarLimits(maxNameByteCount: 150), byteOffset: 11264,
            message: "name of 216 bytes exceeds the limit of 150 bytes"),
        Case(
            fixture: "python-ustar.tar", limits: TarLimits(maxMemberCount: 3), byteOffset: 3072,
            message: "archive has more than 3 members"),
        Case(
            fixture: "python-pax.tar", limits: TarLimits(maxConsecutiveExtensionHeaders: 0), byteOffset: 9728,
            message: "more than 0 consecutive extension headers"),
    ]

    @Test(arguments: cases, [TarWalker.Backend.direct, .libarchive])
    func limitIsEnforced(_ c: Case, backend: TarWalker.Backend) {
        let path = TarFixtures.good(c.fixture)
        let error = TarFixtures.formatError { () throws(FormatError) in
            let walker = try TarWalker(path: path, backend: backend, limits: c.limits)
            while try walker.next() != nil {}
        }
        #expect(error?.code == .unsupported)
        #expect(error?.location == DataLocation(path: path, byteOffset: c.byteOffset))
        #expect(error?.message == c.message)
    }
}
