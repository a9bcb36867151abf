import CFFmpegShim
import Foundation

/// Transparent huge pages off for the process (`MW_TRANSPARENT_HUGE_PAGES`, `off` by default;
/// `kernel` leaves the kernel's policy). libx264 asks for huge pages on its large buffers, and
/// with the kernel's default `defrag=madvise` every first touch of one may compact memory and then
/// zeroes 2 MB: a per-title analysis, which opens seven encoders per sample, spent a quarter of its
/// CPU there on light titles (see docs/benchmarks.md, quality benchmark); encodes ran no faster with them.
public enum TransparentHugePages {
    public static func apply(environment: [String: String] = ProcessInfo.processInfo.environment) {
        switch environment["MW_TRANSPARENT_HUGE_PAGES"]?.lowercased() ?? "off" {
        case "kernel": return
        case "off", "": _ = mw_disable_transparent_huge_pages()
        case let other:
            FileHandle.standardError.write(Data("MW_TRANSPARENT_HUGE_PAGES=\(other): expected off or kernel; off\n".utf8))
            _ = mw_disable_transparent_huge_pages()
        }
    }
}
