import Dispatch
import MixteraCore
import MixteraParquet
import Synchronization

/// Reads the Parquet entries of upcoming steps on a second thread while the replay emits the current one: the
/// reader submits each step's Parquet entries a few steps ahead and takes the step's samples (their JSON) when it
/// gets there, waiting if they are still being read. Steps are read in submission order by one serial queue with
/// its own `ParquetReplayCache`, so a sample's bytes are exactly those the reader would produce itself; only the
/// thread differs. Memory: the samples of the steps submitted ahead.
final class ParquetStepReader: @unchecked Sendable {
    /// One Parquet entry to read.
    struct Job: Sendable {
        let file: Int
        let path: String
        let textField: String?
        let firstRow: Int64
        let count: Int
    }

    /// The samples of one step's Parquet entries, in entry order: their JSON back to back in `bytes`.
    final class StepSamples: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        /// Set by whichever thread reads the step: the queue, or the replay thread (`take`).
        let claimed = Atomic<Bool>(false)
        let jobs: [Job]
        init(_ jobs: [Job]) { self.jobs = jobs }

        /// Reads the jobs with `cache`, stopping at the first that fails.
        func read(with cache: inout ParquetReplayCache) {
            // Local buffers: appending to the object's arrays per sample would retain and check access each time.
            var bytes: [UInt8] = []
            var ends: [Int] = []
            var entryEnds: [Int] = []
            bytes.reserveCapacity(1 << 16)
            defer { (self.bytes, self.ends, self.entryEnds) = (bytes, ends, entryEnds) }
            for job in jobs {
                do throws(ReplayError) {
                    try cache.appendSamples(
                        file: job.file, path: job.path, textField: job.textField, firstRow: job.firstRow, count: job.count,
                        to: &bytes, ends: &ends)
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

    /// The cache, used only on `queue`. Blocks capture it rather than `self`, so that the reader is never released
    /// on its own queue (its `deinit` waits for the queue).
    private final class Box: @unchecked Sendable {
        var cache: ParquetReplayCache
        /// Steps submitted since the queue last started a step: before reading a step, the queue has the cache's
        /// prefetcher index their pages (those without sync points) on a third thread.
        let submitted = Mutex<[(step: Int, jobs: [Job])]>([])
        init(_ cache: ParquetReplayCache) { self.cache = cache }
    }

    private let queue = DispatchQueue(label: "mixtera.parquet-steps")
    private let box: Box
    private let slots = Mutex<[Int: StepSamples]>([:])

    /// - Parameter store: shared with the replay's own cache (`take` reads steps with it).
    init(store: ParquetReplayStore) {
        box = Box(ParquetReplayCache(store: store))
    }

    /// Whether step `k` (an index into the replayed steps) was submitted and not yet taken.
    func isSubmitted(_ k: Int) -> Bool { slots.withLock { $0[k] != nil } }

    /// Queues the reading of `jobs`, the Parquet entries of step `k` in entry order.
    func submit(step k: Int, _ jobs: [Job]) {
        let s = StepSamples(jobs)
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
                for job in ahead {
                    box.cache.prefetch(
                        file: job.file, path: job.path, textField: job.textField, firstRow: job.firstRow,
                        count: job.count, step: step, current: k)
                }
            }
            // The replay thread took this step (`take`) and reads it itself.
            guard !s.claimed.exchange(true, ordering: .acquiringAndReleasing) else { return }
            s.read(with: &box.cache)
            s.done.signal()
        }
    }

    /// The samples of step `k` if it was submitted (waiting for them; nil when it was not). While the queue is
    /// still reading it, the caller reads a later submitted step the queue has not started (with `cache`)
    /// rather than wait idle. Whichever thread reads a step, its samples are the same.
    func take(step k: Int, stealingWith cache: inout ParquetReplayCache) -> StepSamples? {
        guard let s = slots.withLock({ $0.removeValue(forKey: k) }) else { return nil }
        if !s.claimed.exchange(true, ordering: .acquiringAndReleasing) {
            // Not started: read it here (the queue skips it).
            s.read(with: &cache)
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
            next.read(with: &cache)
            next.done.signal()
        }
        return s
    }

    deinit { queue.sync {} }
}
