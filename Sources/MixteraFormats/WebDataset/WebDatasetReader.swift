import MixteraCore

/// Walks a WebDataset tar (plain or compressed) and yields its samples in order, loading the bytes of the
/// members the caller asks for during the walk.
///
/// Scanning loads small property members (`loadExtensions: ["json", "cls"]`). Replay from a *compressed*
/// tar, which cannot seek, streams the archive once with `sampleIndices` set to the wanted samples
/// (ascending) and `loadExtensions: nil` (all members); the walk stops after the last wanted sample. Plain
/// tars replay with ``TarDataReader`` instead.
public final class WebDatasetReader {
    public struct Options: Sendable {
        /// Extensions (exact match) whose bytes are loaded into ``WebDatasetMember/data``; nil loads every member.
        public var loadExtensions: Set<String>?
        /// Largest member that may be loaded; a larger wanted member throws `.unsupported`.
        public var maxLoadByteCount: Int
        /// When set (ascending, no duplicates), only these samples are returned.
        public var sampleIndices: [Int]?
        public var backend: TarWalker.Backend
        public var limits: TarLimits

        public init(
            loadExtensions: Set<String>? = [], maxLoadByteCount: Int = 16 << 20, sampleIndices: [Int]? = nil,
            backend: TarWalker.Backend = .automatic, limits: TarLimits = TarLimits()
        ) {
            self.loadExtensions = loadExtensions
            self.maxLoadByteCount = maxLoadByteCount
            self.sampleIndices = sampleIndices
            self.backend = backend
            self.limits = limits
        }
    }

    public let options: Options
    private let walker: TarWalker
    private var grouper: WebDatasetGrouper
    private var done = false

    public var path: String { walker.path }
    /// Members skipped so far, per reason.
    public var skipped: WebDatasetSkipCounts { grouper.skipped }
    /// See ``TarWalker/isStreamed``.
    public var isStreamed: Bool { walker.isStreamed }

    public init(path: String, options: Options = Options()) throws(FormatError) {
        if let indices = options.sampleIndices {
            precondition(zip(indices, indices.dropFirst()).allSatisfy { $0 < $1 }, "sampleIndices must be ascending")
        }
        self.options = options
        walker = try TarWalker(path: path, backend: options.backend, limits: options.limits)
        grouper = WebDatasetGrouper(path: path)
    }

    /// Reads a plain tar in place from its mapping (`options.backend` is not used).
    public init(path: String, mapping: TarFileMapping, options: Options = Options()) {
        if let indices = options.sampleIndices {
            precondition(zip(indices, indices.dropFirst()).allSatisfy { $0 < $1 }, "sampleIndices must be ascending")
        }
        self.options = options
        walker = TarWalker(path: path, mapping: mapping, limits: options.limits)
        grouper = WebDatasetGrouper(path: path)
    }

    private func isSelected(_ index: Int) -> Bool {
        guard let indices = options.sampleIndices else { return true }
        var lo = 0
        var hi = indices.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if indices[mid] < index { lo = mid + 1 } else { hi = mid }
        }
        return lo < indices.count && indices[lo] == index
    }

    private func isPastSelection(_ index: Int) -> Bool {
        guard let last = options.sampleIndices?.last else { return false }
        return index > last
    }

    /// The next (selected) sample, or nil at the end.
    public func next() throws(FormatError) -> WebDatasetSample? {
        while !done {
            guard let member = try walker.next() else {
                done = true
                if let last = grouper.finish(), isSelected(last.sampleIndex) { return last }
                return nil
            }
            let index = grouper.sampleIndex(for: member)
            if let index, isPastSelection(index) {
                // Everything wanted has been seen; the sample in progress (if any) is complete.
                done = true
                if let last = grouper.finish(), isSelected(last.sampleIndex) { return last }
                return nil
            }
            var data: [UInt8]?
            if let index, isSelected(index), let ext = Self.memberExtension(of: member.name),
                options.loadExtensions?.contains(ext) ?? true
            {
                data = try walker.readData(maxByteCount: options.maxLoadByteCount)
            }
            if let completed = try grouper.add(member, data: data), isSelected(completed.sampleIndex) {
                return completed
            }
        }
        return nil
    }

    /// Reads every remaining (selected) sample.
    public func readAll() throws(FormatError) -> [WebDatasetSample] {
        var out: [WebDatasetSample] = []
        while let s = try next() { out.append(s) }
        return out
    }

    private static func memberExtension(of name: String) -> String? {
        if case .member(_, let ext) = WebDatasetName.split(name) { return String(ext) }
        return nil
    }
}
