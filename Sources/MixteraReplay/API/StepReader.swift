import Dispatch
import MixteraCore
import MixteraFormats
import MixteraManifest
import MixteraParquet
import Synchronization

/// What a thread reading entries keeps: Parquet page caches and JSONL text extractors.
struct StepContext {
    var parquet: ParquetReplayCache
    var jsonl = JSONLReplayContext()
}

/// Reads the Parquet entries, and the JSONL entries of mapped plain files, of upcoming steps on a second thread
/// while the replay emits the current one: the reader submits each step's entries a few steps ahead and takes the
/// step's samples (their JSON) when it gets there. Steps are read in submission order by one serial queue with its
/// own `StepContext`, so a sample's bytes are exactly those the reader would produce itself; only the thread
/// differs. Memory: the samples of the steps submitted ahead.
final class StepReader: @unchecked Sendable {
    /// One entry to read.
    enum Job: @unchecked Sendable {
        case parquet(file: Int, path: String, textField: String?, firstRow: Int64, count: Int)
        /// `reader` is mapped (it reads without state, so either thread may use it).
        case jsonl(entry: ManifestEntry, reader: JSONLRecordReader, textField: String?, labels: FileLabels?)
    }

    /// The samples of one step's Parquet entries, in entry order: their JSON back to back in `bytes`.
    final class StepSamples: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        /// Set by whichever thread reads the step: the queue, or the replay thread (`take`).
        let claimed = Atomic<Bool>(false)
        let jobs: [Job]
        /// Per entry of the step: the index of its job, or −1 for an entry the replay thread reads itself.
        let jobOf: [Int]
        init(_ jobs: [Job], jobOf: [Int]) {
            self.jobs = jobs
            self.jobOf = jobOf
        }

        /// Reads the jobs with `context`, stopping at the first that fails.
        func read(with context: inout StepContext) {
            // Local buffers: appending to the object's arrays per sample would retain and check access each time.
            var bytes: [UInt8] = []
            var ends: [Int] = []
            var entryEnds: [Int] = []
            bytes.reserveCapacity(1 << 16)
            defer { (self.bytes, self.ends, self.entryEnds) = (bytes, ends, entryEnds) }
            for job in jobs {
                do throws(ReplayError) {
                    switch job {
                    case .parquet(let file, let path, let textField, let firstRow, let count):
                        try context.parquet.appendSamples(
                            file: file, path: path, textField: textField, firstRow: firstRow, count: count, to: &bytes,
                            ends: &ends)
                    case .jsonl(let entry, let reader, let textField, let labels):
                        try context.jsonl.append(
                            entry: entry, reader: reader, textField: textField, labels: labels, to: &bytes, ends: &ends)
                    }
                } catch {
                    self.error = error
                    break
                }
                entryEnds.append(ends.count)
            }
        }
        var bytes: [UInt8] = []
        /// Per sample: where its JSON ends in `bytes`.
        var ends: [Int] = []
        /// Per entry read completely: the index one past its last sample.
        var entryEnds: [Int] = []
        /// The error of entry `entryEnds.count` (its samples before the error are in `ends`); nil when all were read.
        var error: ReplayError?

        /// Samples `range` of entry `p`, and whether the entry then failed with `error`.
        func samples(entry p: Int) -> (Range<Int>, failed: Bool) {
            let lo = p == 0 ? 0 : (p - 1 < entryEnds.count ? entryEnds[p - 1] : ends.count)
            if p < entryEnds.count { return (lo..<entryEnds[p], false) }
            return (lo..<ends.count, p == entryEnds.count && error != nil)
        }

        func json(_ i: Int) -> ArraySlice<UInt8> { bytes[(i == 0 ? 0 : ends[i - 1])..<ends[i]] }
    }

    /// The context, used only on `queue`. Blocks capture it rather than `self`, so that the reader is never released
    /// on its own queue (its `deinit` waits for the queue).
    private final class Box: @unchecked Sendable {
        var context: StepContext
        /// Steps submitted since the queue last started a step: before reading a step, the queue has the Parquet
        /// cache's prefetcher index their pages (those without sync points) on a third thread.
        let submitted = Mutex<[(step: Int, jobs: [Job])]>([])
        init(_ context: StepContext) { self.context = context }
    }

    private let queue = DispatchQueue(label: "mixtera.steps")
    private let box: Box
    private let slots = Mutex<[Int: StepSamples]>([:])

    /// - Parameter store: shared with the replay's own Parquet cache (`take` reads steps with its context).
    init(store: ParquetReplayStore) {
        box = Box(StepContext(parquet: ParquetReplayCache(store: store)))
    }

    /// Whether step `k` (an index into the replayed steps) was submitted and not yet taken.
    func isSubmitted(_ k: Int) -> Bool { slots.withLock { $0[k] != nil } }

    /// Queues the reading of `jobs`, entries of step `k` in entry order (`jobOf`: per entry, its job or −1; by
    /// default every entry is a job).
    func submit(step k: Int, _ jobs: [Job], jobOf: [Int]? = nil) {
        let s = StepSamples(jobs, jobOf: jobOf ?? Array(jobs.indices))
        guard
            slots.withLock({ (slots) -> Bool in
                if slots[k] != nil { return false }
                slots[k] = s
                return true
            })
        else { return }
        box.submitted.withLock { $0.append((k, jobs)) }
        let box = self.box
        queue.async {
            for (step, ahead) in box.submitted.withLock({ (all) -> [(step: Int, jobs: [Job])] in
                defer { all.removeAll() }
                return all
            }) where step > k {
                for case .parquet(let file, let path, let textField, let firstRow, let count) in ahead {
                    box.context.parquet.prefetch(
                        file: file, path: path, textField: textField, firstRow: firstRow, count: count, step: step,
                        current: k)
                }
            }
            // The replay thread took this step (`take`) and reads it itself.
            guard !s.claimed.exchange(true, ordering: .acquiringAndReleasing) else { return }
            s.read(with: &box.context)
            s.done.signal()
        }
    }

    /// The samples of step `k` if it was submitted (waiting for them; nil when it was not). While the queue is
    /// still reading it, the caller reads a later submitted step the queue has not started (with `context`)
    /// rather than wait idle. Whichever thread reads a step, its samples are the same.
    func take(step k: Int, stealingWith context: inout StepContext) -> StepSamples? {
        guard let s = slots.withLock({ $0.removeValue(forKey: k) }) else { return nil }
        if !s.claimed.exchange(true, ordering: .acquiringAndReleasing) {
            // Not started: read it here (the queue skips it).
            s.read(with: &context)
            return s
        }
        while s.done.wait(timeout: .now()) == .timedOut {
            // The queue is on it: take the next step it has not started, if any, else wait.
            let next = slots.withLock { slots in
                slots.filter { $0.key > k && !$0.value.claimed.load(ordering: .acquiring) }.min { $0.key < $1.key }?.value
            }
            guard let next, !next.claimed.exchange(true, ordering: .acquiringAndReleasing) else {
                s.done.wait()
                break
            }
            next.read(with: &context)
            next.done.signal()
        }
        return s
    }

    deinit { queue.sync {} }
}
