//! socket.io-client's `Backoff` (`contrib/backo2.js`), with the random number as an input.

/// Exponential backoff with jitter, computing exactly what socket.io-client's `Backoff` does
/// for the same `Math.random()` value.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    ms: f64,
    max: f64,
    jitter: f64,
    attempts: u32,
}

impl Backoff {
    /// A backoff from `min` to `max` ms with a `jitter` factor, as `new Backoff({min, max,
    /// jitter})`: a zero `min`/`max` means 100/10000, a jitter outside `(0, 1]` means none.
    pub fn new(min: f64, max: f64, jitter: f64) -> Self {
        Backoff {
            ms: if min == 0.0 || min.is_nan() { 100.0 } else { min },
            max: if max == 0.0 || max.is_nan() { 10_000.0 } else { max },
            jitter: if jitter > 0.0 && jitter <= 1.0 { jitter } else { 0.0 },
            attempts: 0,
        }
    }

    /// The next delay in ms, counting one more attempt. `rand` is the driver's
    /// `Math.random()` in `[0, 1)`; like the reference, the one value decides both the size
    /// (`floor(rand * jitter * ms)`) and the direction (`floor(rand * 10)` even: shorter) of
    /// the deviation. The result is capped at `max` and truncated as `| 0` does.
    pub fn duration(&mut self, rand: f64) -> u64 {
        // The reference's factor is 2: a power of two is exact by repeated squaring (and
        // infinite past 2^1023, as `Math.pow` is), without libm's `pow` (2 KB of wasm).
        let mut ms = self.ms * 2f64.powi(i32::try_from(self.attempts).unwrap_or(i32::MAX));
        self.attempts = self.attempts.saturating_add(1);
        if self.jitter != 0.0 && !self.jitter.is_nan() {
            let deviation = (rand * self.jitter * ms).floor();
            ms = if to_int32((rand * 10.0).floor()) & 1 == 0 { ms - deviation } else { ms + deviation };
        }
        let capped = if ms.is_nan() || self.max.is_nan() { f64::NAN } else { ms.min(self.max) };
        // setTimeout treats a negative delay as 0
        to_int32(capped).max(0) as u64
    }

    /// Forgets the attempts made (`reset()`).
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// The attempts counted since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Sets the base delay (`setMin`).
    pub fn set_min(&mut self, min: f64) {
        self.ms = min;
    }

    /// Sets the cap (`setMax`).
    pub fn set_max(&mut self, max: f64) {
        self.max = max;
    }

    /// Sets the jitter factor (`setJitter`, unchecked as in the reference).
    pub fn set_jitter(&mut self, jitter: f64) {
        self.jitter = jitter;
    }
}

/// JavaScript's ToInt32 (what `x | 0` computes).
fn to_int32(x: f64) -> i32 {
    if !x.is_finite() {
        return 0;
    }
    let m = x.trunc().rem_euclid(4_294_967_296.0);
    (if m >= 2_147_483_648.0 { m - 4_294_967_296.0 } else { m }) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int32_truncation_matches_javascript() {
        assert_eq!(to_int32(1.9), 1);
        assert_eq!(to_int32(-1.9), -1);
        assert_eq!(to_int32(2_147_483_648.0), -2_147_483_648);
        assert_eq!(to_int32(4_294_967_297.0), 1);
        assert_eq!(to_int32(f64::INFINITY), 0);
    }

    #[test]
    fn without_jitter_delays_double_up_to_the_cap() {
        let mut b = Backoff::new(1000.0, 5000.0, 0.0);
        let delays: Vec<u64> = (0..5).map(|_| b.duration(0.7)).collect();
        assert_eq!(delays, [1000, 2000, 4000, 5000, 5000]);
        assert_eq!(b.attempts(), 5);
        b.reset();
        assert_eq!(b.duration(0.7), 1000);
    }

    #[test]
    fn past_the_largest_power_of_two_the_delay_stays_at_the_cap() {
        let mut b = Backoff::new(1000.0, 5000.0, 0.5);
        let delays: Vec<u64> = (0..1100).map(|_| b.duration(0.3)).collect();
        // 2^1023 * 1000 is infinite, as Math.pow(2, 1023) * 1000 is: capped at max.
        assert_eq!(delays[3], 5000);
        assert!(delays[1000..].iter().all(|&d| d == 5000), "{:?}", &delays[1000..1010]);
        // Math.floor(0 * jitter * Infinity) is NaN, and so is the delay: `Math.min(NaN, max) | 0`.
        assert_eq!(b.duration(0.0), 0);
    }
}
