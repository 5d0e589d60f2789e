import MixteraCore
import Testing

@testable import MixteraFormats

@Suite struct WebDatasetReaderTests {
    @Test(arguments: ["webdataset-writer.tar", "webdataset-writer.tar.gz"])
    func loadsRequestedExtensionsOnly(fixture: String) throws {
        let reader = try WebDatasetReader(
            path: TarFixtures.good(fixture), options: .init(loadExtensions: ["json", "cls"]))
        let samples = try reader.readAll()
        #expect(samples.map(\.key) == ["shard/000000", "shard/000001", "shard/000002", "shard/000003"])
        for s in samples {
            #expect(s.members.map(\.extension) == ["cls", "json", "txt"])
            #expect(s.member(withExtension: "txt")?.data == nil)
            let cls = try #require(s.member(withExtension: "cls")?.data)
            #expect(String(decoding: cls, as: UTF8.self) == "\(s.sampleIndex % 3)")
            let json = try #require(s.member(withExtension: "json")?.data)
            #expect(String(decoding: json, as: UTF8.self).contains("\"id\": \(s.sampleIndex)"))
        }
    }

    /// Streaming replay of selected samples from a compressed tar equals random access into the plain tar.
    @Test(arguments: [[1, 3], [0], [2], [0, 1, 2, 3], [], [7]])
    func streamingReplayMatchesRandomAccess(indices: [Int]) throws {
        let reader = try WebDatasetReader(
            path: TarFixtures.good("webdataset-writer.tar.gz"),
            options: .init(loadExtensions: nil, sampleIndices: indices))
        #expect(reader.isStreamed)
        let samples = try reader.readAll()
        #expect(samples.map(\.sampleIndex) == indices.filter { $0 < 4 })
        let plain = try TarDataReader(path: TarFixtures.good("webdataset-writer.tar"))
        for s in samples {
            for m in s.members {
                let direct = try plain.read(dataByteOffset: m.dataByteOffset, byteCount: m.byteCount, member: m.name)
                #expect(m.data == direct)
            }
        }
    }

    /// Reading a plain tar in place from its mapping gives the samples, member data and errors of reading it
    /// with `pread`; the mapping's fingerprint is the file's.
    @Test(
        arguments: TarFixtures.plain.map(TarFixtures.good)
            + [
                "bad-checksum.tar", "duplicate-extension.tar", "truncated-header.tar", "truncated-member.tar",
                "truncated-padding.tar", "pax-bad-record.tar", "pax-without-member.tar", "gnu-sparse.tar",
            ].map(TarFixtures.bad))
    func mappedReadMatchesPread(path: String) throws {
        func read(_ reader: WebDatasetReader) -> ([WebDatasetSample], FormatError?) {
            var out: [WebDatasetSample] = []
            do {
                while let s = try reader.next() { out.append(s) }
            } catch { return (out, error) }
            return (out, nil)
        }
        let options = WebDatasetReader.Options(loadExtensions: nil)
        let mapping = try #require(try TarFileMapping(path: path))
        #expect(TarHeaderFingerprint.compute(mapping.bytes) == (try TarHeaderFingerprint.compute(path: path)))
        let mapped = read(WebDatasetReader(path: path, mapping: mapping, options: options))
        let direct = read(try WebDatasetReader(path: path, options: options))
        #expect(mapped.0 == direct.0)
        #expect(mapped.1?.code == direct.1?.code)
        #expect(mapped.1?.message == direct.1?.message)
        #expect(mapped.1?.location == direct.1?.location)
    }

    @Test func compressedTarsAreNotMapped() throws {
        #expect(try TarFileMapping(path: TarFixtures.good("webdataset-writer.tar.gz")) == nil)
    }

    @Test func selectionStopsEarly() throws {
        let reader = try WebDatasetReader(
            path: TarFixtures.good("python-ustar.tar"), options: .init(sampleIndices: [0]))
        let s = try #require(try reader.next())
        #expect(s.key == "s0000")
        #expect(try reader.next() == nil)
        #expect(reader.skipped.total == 0)  // the walk never reached the long directory member
    }

    @Test func dataReaderMatchesExpectedBytes() throws {
        for fixture in TarFixtures.plain {
            let reader = try TarDataReader(path: TarFixtures.good(fixture))
            for m in try TarFixtures.expected(fixture).members where m.data_hex != nil {
                let bytes = try reader.read(dataByteOffset: m.data_offset, byteCount: m.size, member: m.name)
                #expect(TarFixtures.hex(bytes) == m.data_hex, "\(fixture): \(m.name)")
            }
        }
    }

    @Test func dataReaderRejectsCompressedTars() {
        let path = TarFixtures.good("python-pax.tar.zst")
        let error = TarFixtures.formatError { () throws(FormatError) in _ = try TarDataReader(path: path) }
        #expect(error?.code == .unsupported)
        #expect(error?.location == DataLocation(path: path))
        #expect(error?.message == "compressed tar cannot be read at an offset; replay must stream it")
    }

    @Test func dataReaderPastEndOfFile() throws {
        let path = TarFixtures.good("non-adjacent.tar")
        let reader = try TarDataReader(path: path)
        let error = TarFixtures.formatError { () throws(FormatError) in
            _ = try reader.read(dataByteOffset: reader.fileByteCount - 10, byteCount: 20, member: "x.txt")
        }
        #expect(error?.code == .truncated)
        #expect(error?.location == DataLocation(path: path, byteOffset: reader.fileByteCount - 10, member: "x.txt"))
        #expect(error?.message == "member data of 20 bytes is cut off after 10 bytes")
    }
}
