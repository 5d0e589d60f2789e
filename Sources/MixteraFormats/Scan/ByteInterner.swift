import MixteraCore

/// Interns byte strings to dense ids (first-seen order) without allocating on a hit: an open-addressing
/// table of XXH3 hashes over one contiguous storage buffer.
struct ByteInterner {
    private(set) var storage: [UInt8] = []
    private(set) var starts: [Int] = [0]
    private var table: [Int32]
    private var hashes: [UInt64] = []
    private var mask: Int

    init(capacity: Int = 64) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        table = Array(repeating: -1, count: size)
        mask = size - 1
    }

    var count: Int { starts.count - 1 }

    func value(_ id: Int) -> ArraySlice<UInt8> { storage[starts[id]..<starts[id + 1]] }

    mutating func intern(_ bytes: UnsafeRawBufferPointer) -> Int {
        let h = XXH3.hash(bytes)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let id = Int(table[slot])
            if id < 0 { break }
            if hashes[id] == h && equal(id, bytes) { return id }
            slot = (slot + 1) & mask
        }
        let id = count
        storage.append(contentsOf: bytes)
        starts.append(storage.count)
        hashes.append(h)
        table[slot] = Int32(id)
        if count * 2 > table.count { grow() }
        return id
    }

    private func equal(_ id: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let s = starts[id]
        let len = starts[id + 1] - s
        guard len == bytes.count else { return false }
        return storage.withUnsafeBytes { st in
            len == 0 || memcmpBytes(st.baseAddress! + s, bytes.baseAddress!, len)
        }
    }

    private mutating func grow() {
        let size = table.count * 2
        table = Array(repeating: -1, count: size)
        mask = size - 1
        for (id, h) in hashes.enumerated() {
            var slot = Int(truncatingIfNeeded: h) & mask
            while table[slot] >= 0 { slot = (slot + 1) & mask }
            table[slot] = Int32(id)
        }
    }
}

@inline(__always) func memcmpBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    for i in 0..<n where a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) {
        return false
    }
    return true
}
