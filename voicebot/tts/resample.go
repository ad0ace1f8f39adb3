package tts

import (
	"math"
	"sync"
)

// Resampler design. Each output sample is a windowed-sinc interpolation of
// the input around its position. The sinc's cutoff sits below the lower of
// the two Nyquist frequencies, so downsampling low-passes first instead of
// folding what lies above the new Nyquist back into the band (espeak-ng
// renders at 22050 Hz, telephony wants 8000 Hz: its 4–11 kHz content would
// otherwise alias into the speech band). Input and output rates reduced by
// their gcd give L output phases; when L is small (every usual pair of
// rates) the per-phase coefficients are computed once and shared.
const (
	zeroCrossings = 24   // sinc lobes kept on each side of the centre
	rolloff       = 0.92 // cutoff as a fraction of the lower Nyquist
	maxPhases     = 4096 // above this, coefficients are computed per sample
)

type filterKey struct{ in, out int }

// filter is a polyphase windowed-sinc filter from one rate to another.
type filter struct {
	up, down int         // output advances 1/up of an input sample per down steps: t(n) = n*down/up
	half     int         // taps on each side: a phase covers input [base-half+1, base+half]
	cutoff   float64     // cycles per input sample
	phases   [][]float32 // [phase][tap], nil when up > maxPhases
}

var filters sync.Map // filterKey -> *filter

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func filterFor(in, out int) *filter {
	key := filterKey{in, out}
	if f, ok := filters.Load(key); ok {
		return f.(*filter)
	}
	g := gcd(in, out)
	f := &filter{up: out / g, down: in / g}
	f.cutoff = 0.5 * rolloff * math.Min(1, float64(out)/float64(in))
	// The kernel's zero crossings are 1/(2·cutoff) input samples apart.
	f.half = int(math.Ceil(zeroCrossings / (2 * f.cutoff)))
	if f.up <= maxPhases {
		f.phases = make([][]float32, f.up)
		for p := range f.phases {
			f.phases[p] = f.coefficients(float64(p) / float64(f.up))
		}
	}
	actual, _ := filters.LoadOrStore(key, f)
	return actual.(*filter)
}

// coefficients returns the taps for an output sample lying frac (0 ≤ frac
// < 1) input samples after input sample base: tap j weighs input base-half+1+j.
// They are normalised to sum to 1 so DC and low frequencies keep their level.
func (f *filter) coefficients(frac float64) []float32 {
	taps := make([]float64, 2*f.half)
	width := float64(f.half)
	sum := 0.0
	for j := range taps {
		x := frac - float64(j-f.half+1) // distance from the output instant, in input samples
		taps[j] = 2 * f.cutoff * sinc(2*f.cutoff*x) * blackman(x/width)
		sum += taps[j]
	}
	out := make([]float32, len(taps))
	for j, t := range taps {
		out[j] = float32(t / sum)
	}
	return out
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

// blackman is the Blackman window over x in [-1, 1], zero outside.
func blackman(x float64) float64 {
	if x <= -1 || x >= 1 {
		return 0
	}
	u := math.Pi * (x + 1) // 0..2π across the window
	return 0.42 - 0.5*math.Cos(u) + 0.08*math.Cos(2*u)
}

// Resample converts the audio to rate with band-limited (windowed-sinc)
// interpolation. Audio already at rate, or with no rate, is returned as is.
func Resample(a Audio, rate int) Audio {
	if rate <= 0 || a.SampleRate <= 0 || rate == a.SampleRate {
		return a
	}
	out := Audio{SampleRate: rate}
	if len(a.Samples) == 0 {
		return out
	}
	f := filterFor(a.SampleRate, rate)
	n := len(a.Samples) * f.up / f.down
	out.Samples = make([]int16, n)
	in := a.Samples
	for i := range out.Samples {
		pos := i * f.down
		base, phase := pos/f.up, pos%f.up
		var taps []float32
		if f.phases != nil {
			taps = f.phases[phase]
		} else {
			taps = f.coefficients(float64(phase) / float64(f.up))
		}
		start := base - f.half + 1
		lo, hi := 0, len(taps)
		if start < 0 {
			lo = -start
		}
		if start+hi > len(in) {
			hi = len(in) - start
		}
		var acc float32
		for j := lo; j < hi; j++ {
			acc += taps[j] * float32(in[start+j])
		}
		out.Samples[i] = clamp16(acc)
	}
	return out
}

func clamp16(v float32) int16 {
	v = float32(math.Round(float64(v)))
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}
