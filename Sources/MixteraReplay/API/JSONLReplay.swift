import MixteraCore
import MixteraFormats
import MixteraManifest
import Synchronization

/// Open JSONL readers, shared by the replay thread and the step reader's queue. At most `limit` stay open (the
/// oldest is dropped; a thread still reading with it keeps it alive until the read ends). Readers of mapped plain
/// files read without state of their own, so both threads use them; the others (compressed streams, files that
/// could not be mapped) keep a position or a buffer, and only the replay thread reads with them.
final class JSONLReaderStore: @unchecked Sendable {
    /// A reader handed between threads; only mapped readers are read on two threads at once.
    private final class Shared: @unchecked Sendable {
        let reader: JSONLRecordReader
        init(_ reader: JSONLRecordReader) { self.reader = reader }
    }
    private let open = Mutex<(readers: [Int: Shared], order: [Int])>(([:], []))
    static let limit = 64

    /// The reader of `file`, opened with `make` when it is not open.
    func reader(_ file: Int, make: () throws(ReplayError) -> JSONLRecordReader) throws(ReplayError) -> JSONLRecordReader {
        if let r = open.withLock({ $0.readers[file] }) { return r.reader }
        let made = Shared(try make())
        return open.withLock { (state) -> Shared in
            // Another thread may have opened it meanwhile: keep theirs, so both read one mapping.
            if let r = state.readers[file] { return r }
            if state.order.count >= Self.limit { state.readers[state.order.removeFirst()] = nil }
            state.readers[file] = made
            state.order.append(file)
            return made
        }.reader
    }
}

/// What reading JSONL entries needs on one thread: its text extractors (they keep parse state).
struct JSONLReplayContext {
    /// By text path (a manifest has a few): mutated in place, so their parse buffers are never copied.
    private var extractors: [(path: String, extractor: JSONTextExtractor)] = []

    /// Appends the samples of JSONL entry `e` to `bytes`, recording where each ends in `ends`; on an error, the
    /// samples before the failing record stay and nothing of it does. A sparse entry is read as one run of `span`
    /// records, the records between its rows dropped, and so are the `lead` records between a label entry's
    /// checkpoint and its first row; when that row is in the second half of its checkpoint interval, it is found by
    /// scanning back from the next checkpoint (mapped files).
    mutating func append(
        entry e: ManifestEntry, reader: JSONLRecordReader, textField: String?, labels: FileLabels?,
        to bytes: inout [UInt8], ends: inout [Int]
    ) throws(ReplayError) {
        var lead = e.lead
        var locator = e.locator
        if lead > 0, let fl = labels {
            let next = Int(e.row) / fl.interval + 1
            if lead > fl.interval / 2, next < fl.checkpoints.count,
                let start = reader.recordStart(before: fl.checkpoints[next], records: next * fl.interval - Int(e.row))
            {
                locator = start
                lead = 0
            }
        }
        var x = -1
        if let textField {
            if let i = extractors.firstIndex(where: { $0.path == textField }) {
                x = i
            } else {
                do { extractors.append((textField, try JSONTextExtractor(path: textField))) } catch { throw ReplayError(error) }
                x = extractors.count - 1
            }
        }
        let skips = e.skips
        var skipIndex = 0
        var toSkip = lead
        let at = locator
        let path = reader.path
        let kept = bytes.count
        do throws(FormatError) {
            try reader.read(offset: locator, count: lead + Int(e.span)) { (line) throws(FormatError) in
                if toSkip > 0 {
                    toSkip -= 1
                    return
                }
                if skipIndex < skips.count {
                    toSkip = Int(skips[skipIndex])
                    skipIndex += 1
                }
                if x >= 0 {
                    try extractors[x].extractor.appendJSONString(
                        line, to: &bytes, location: DataLocation(path: path, byteOffset: at))
                } else {
                    bytes.append(contentsOf: line)
                }
                ends.append(bytes.count)
            }
        } catch {
            bytes.removeSubrange(max(kept, ends.last ?? kept)...)
            throw ReplayError(error)
        }
    }
}
