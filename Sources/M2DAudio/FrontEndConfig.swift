// FrontEndConfig: the log-mel parameters (docs/NUMERICS.md §1.1): 16 kHz and 32 kHz official sets.

public struct FrontEndConfig: Sendable, Equatable, Codable {
    public var sampleRate: Int
    public var nFFT: Int
    public var winLength: Int
    public var hopLength: Int
    public var nMels: Int
    public var fMin: Double
    public var fMax: Double

    public init(sampleRate: Int, nFFT: Int, winLength: Int, hopLength: Int, nMels: Int, fMin: Double, fMax: Double) {
        self.sampleRate = sampleRate
        self.nFFT = nFFT
        self.winLength = winLength
        self.hopLength = hopLength
        self.nMels = nMels
        self.fMin = fMin
        self.fMax = fMax
    }

    public static let m2d16k = FrontEndConfig(
        sampleRate: 16000, nFFT: 400, winLength: 400, hopLength: 160, nMels: 80, fMin: 50, fMax: 8000)
    public static let m2d32k = FrontEndConfig(
        sampleRate: 32000, nFFT: 800, winLength: 800, hopLength: 320, nMels: 80, fMin: 50, fMax: 16000)

    public var bins: Int { nFFT / 2 + 1 }

    /// Frames for `samples` input samples (center padding): floor(N / hop) + 1.
    public func frameCount(samples: Int) -> Int { samples / hopLength + 1 }

    /// The fewest samples the reflect padding accepts (n_fft/2 + 1).
    public var minimumSamples: Int { nFFT / 2 + 1 }
}
