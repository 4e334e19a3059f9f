import Foundation

/// Returns freed heap pages to the operating system (glibc's `malloc_trim`, looked up at run
/// time because the Swift overlay does not export it; a no-op elsewhere).
enum HeapTrim {
    private typealias Trim = @convention(c) (Int) -> Int32

    private static let trim: Trim? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: Trim.self)
    }()

    static func releaseFreedMemory() { _ = trim?(0) }
}
