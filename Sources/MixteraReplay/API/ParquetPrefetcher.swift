import Dispatch
import MixteraParquet
import Synchronization

/// Indexes sparse Parquet text pages on a background thread ahead of the replay that reads them: the reader
/// submits the pages of the next step's entries while it replays the current one, and takes each page when it
/// gets there (waiting if it is still being indexed). A page index is a function of the file's bytes alone, so
/// which thread built it does not change the output. Memory: the pages of the steps submitted ahead; slots of
/// steps the reader has passed without taking them are dropped.
final class ParquetPrefetcher: @unchecked Sendable {
    /// One submitted page: its index once built (nil when the page is not a sparse one or indexing failed; the
    /// reader then does it itself and reports the problem).
    private final class Slot: @unchecked Sendable {
        let step: Int
        let done = DispatchSemaphore(value: 0)
        var page: ParquetSparseByteArrayPage?
        init(step: Int) { self.step = step }
    }

    private let queue = DispatchQueue(label: "mixtera.parquet-prefetch")
    /// The scratch window, used only on `queue`. Blocks capture it rather than `self`, so that the prefetcher is
    /// never released on its own queue (its `deinit` waits for the queue).
    private final class Scratch: @unchecked Sendable { let window = ParquetSparseWindow() }
    private let scratch = Scratch()
    private let slots = Mutex<[PageKey: Slot]>([:])

    /// Queues `index` (run with the prefetcher's scratch window) for `key`, needed at `step`, unless it is already
    /// queued; the reader is at step `current`.
    func submit(
        _ key: PageKey, step: Int, current: Int,
        _ index: @escaping @Sendable (ParquetSparseWindow) -> ParquetSparseByteArrayPage?
    ) {
        let slot: Slot? = slots.withLock { slots in
            if slots[key] != nil { return nil }
            // Drop what the reader passed without taking (its page came from the cache after all).
            if slots.count > 64 { slots = slots.filter { $0.value.step >= current } }
            let s = Slot(step: step)
            slots[key] = s
            return s
        }
        guard let slot else { return }
        let scratch = self.scratch
        queue.async {
            slot.page = index(scratch.window)
            slot.done.signal()
        }
    }

    /// The index of `key` if it was submitted (waiting for it to be built), else nil.
    func take(_ key: PageKey) -> ParquetSparseByteArrayPage? {
        guard let slot = slots.withLock({ $0.removeValue(forKey: key) }) else { return nil }
        slot.done.wait()
        return slot.page
    }

    /// Submitted pages not yet taken (for tests).
    var pendingCount: Int { slots.withLock { $0.count } }

    deinit { queue.sync {} }
}
