//! JSON number tokens read exactly as `Number(..)` reads them, with small big-integer
//! arithmetic instead of the standard library's float parsing (whose tables and algorithms
//! weigh ~20 KB in a wasm).
//!
//! Reading guesses the float with ordinary arithmetic, then corrects the guess until the
//! decimal value lies within half a unit of it (ties to even), comparing exactly.

use std::cmp::Ordering;

/// Digits kept when reading: any float and any midpoint between two floats has fewer
/// significant digits, so a nonzero digit standing in for the rest decides every comparison.
const MAX_DIGITS: usize = 800;

/// A non-negative integer, 32-bit limbs, least significant first.
#[derive(Clone)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(n: u64) -> Self {
        Big(vec![n as u32, (n >> 32) as u32])
    }

    /// `self = self * m + add`.
    fn mul_add(&mut self, m: u32, add: u32) {
        let mut carry = u64::from(add);
        for limb in &mut self.0 {
            let v = u64::from(*limb) * u64::from(m) + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    /// `self *= 10^n`.
    fn mul_pow10(&mut self, mut n: u32) {
        while n > 0 {
            let step = n.min(9);
            self.mul_add(10u32.pow(step), 0);
            n -= step;
        }
    }

    /// `self *= 2^n`.
    fn shl(&mut self, n: u32) {
        let (limbs, bits) = ((n / 32) as usize, n % 32);
        if bits > 0 {
            self.mul_add(1 << bits, 0);
        }
        self.0.splice(0..0, std::iter::repeat_n(0, limbs));
    }

    fn cmp(&self, other: &Big) -> Ordering {
        let len = |b: &Big| b.0.iter().rposition(|&l| l != 0).map_or(0, |i| i + 1);
        let (a, b) = (len(self), len(other));
        a.cmp(&b).then_with(|| self.0[..a].iter().rev().cmp(other.0[..b].iter().rev()))
    }
}

/// Compares `digits × 10^exp10` with `k × 2^exp2`.
fn compare(digits: &[u8], exp10: i32, k: u64, exp2: i32) -> Ordering {
    let mut left = Big(Vec::new());
    for &d in digits {
        left.mul_add(10, u32::from(d - b'0'));
    }
    let mut right = Big::from_u64(k);
    if exp10 >= 0 {
        left.mul_pow10(exp10.unsigned_abs());
    } else {
        right.mul_pow10(exp10.unsigned_abs());
    }
    if exp2 >= 0 {
        right.shl(exp2.unsigned_abs());
    } else {
        left.shl(exp2.unsigned_abs());
    }
    left.cmp(&right)
}

/// `f` (positive, finite) as `m × 2^e`, `m` an integer of at most 53 bits.
fn decompose(f: f64) -> (u64, i32) {
    let bits = f.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1 << 52) - 1);
    if exp == 0 {
        (frac, -1074)
    } else {
        (frac | 1 << 52, exp - 1075)
    }
}

/// The float nearest to `digits × 10^exp10` (ties to even), `digits` without leading zeros.
fn nearest(digits: &[u8], exp10: i32) -> f64 {
    if digits.is_empty() {
        return 0.0;
    }
    let magnitude = digits.len() as i32 + exp10; // the value is below 10^magnitude
    if magnitude > 310 {
        return f64::INFINITY;
    }
    if magnitude < -330 {
        return 0.0;
    }
    let head = &digits[..digits.len().min(19)];
    let lead = head.iter().fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')) as f64;
    if digits.len() <= 15 && (-22..=22).contains(&exp10) {
        // both operands exact, so one correctly rounded operation
        let scale = 10f64.powi(exp10.abs());
        return if exp10 >= 0 { lead * scale } else { lead / scale };
    }
    // a guess within a few units of the answer
    let p = exp10 + (digits.len() - head.len()) as i32;
    let mut f = if p < -300 { lead * 1e-300 * 10f64.powi(p + 300) } else { lead * 10f64.powi(p) };
    if f.is_infinite() {
        f = f64::MAX;
    }
    loop {
        let (m, e) = decompose(f);
        let odd = f.to_bits() & 1 == 1;
        // above the midpoint with the next float (or on it, when this one is odd): go up
        match compare(digits, exp10, 2 * m + 1, e - 1) {
            Ordering::Greater => {
                f = f64::from_bits(f.to_bits() + 1);
                if f.is_infinite() {
                    return f;
                }
                continue;
            }
            Ordering::Equal => return if odd { f64::from_bits(f.to_bits() + 1) } else { f },
            Ordering::Less => {}
        }
        if f == 0.0 {
            return f;
        }
        // below the midpoint with the previous float: go down; the gap below a power of two
        // is half the gap above it
        let (k, e2) = if m == 1 << 52 && e > -1074 { (4 * m - 1, e - 2) } else { (2 * m - 1, e - 1) };
        match compare(digits, exp10, k, e2) {
            Ordering::Less => f = f64::from_bits(f.to_bits() - 1),
            Ordering::Equal if odd => return f64::from_bits(f.to_bits() - 1),
            _ => return f,
        }
    }
}

/// The value of a JSON number token, as `Number(token)` reads it; NaN if it is not one.
pub(crate) fn parse(token: &str) -> f64 {
    let bytes = token.as_bytes();
    let negative = bytes.first() == Some(&b'-');
    let mut i = usize::from(negative);
    let mut digits = Vec::new();
    let mut exp10: i64 = 0;
    let mut seen = false;
    let mut point = false;
    let mut dropped_nonzero = false;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'0'..=b'9' => {
                seen = true;
                if point {
                    exp10 -= 1;
                }
                if digits.len() < MAX_DIGITS {
                    if b != b'0' || !digits.is_empty() {
                        digits.push(b);
                    }
                } else {
                    exp10 += 1;
                    dropped_nonzero |= b != b'0';
                }
            }
            b'.' if !point => point = true,
            _ => break,
        }
        i += 1;
    }
    if !seen {
        return f64::NAN;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        let minus = bytes.get(i) == Some(&b'-');
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        let mut e: i64 = 0;
        while let Some(&b) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            e = (e * 10 + i64::from(b - b'0')).min(1 << 40);
            i += 1;
        }
        if i == start {
            return f64::NAN;
        }
        exp10 += if minus { -e } else { e };
    }
    if i != bytes.len() {
        return f64::NAN;
    }
    if dropped_nonzero {
        digits.push(b'1');
        exp10 -= 1;
    }
    while digits.last() == Some(&b'0') {
        digits.pop();
        exp10 += 1;
    }
    let f = if digits.is_empty() { 0.0 } else { nearest(&digits, exp10.clamp(-100_000, 100_000) as i32) };
    if negative {
        -f
    } else {
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_parse(token: &str) {
        let expected: f64 = token.parse().unwrap();
        assert_eq!(parse(token).to_bits(), expected.to_bits(), "{token}");
    }

    #[test]
    fn reads_like_the_standard_library() {
        for token in [
            "0",
            "-0",
            "1",
            "25000",
            "1.5",
            "0.1",
            "0.3",
            "1e3",
            "2.5E-4",
            "-12.75e+2",
            "1e21",
            "1e22",
            "1e23",
            "9007199254740993",
            "9007199254740992.5",
            "72496108904419420",
            "18446744073709551615",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.797693134862315807e308",
            "1e309",
            "2.2250738585072014e-308",
            "2.2250738585072011e-308",
            "4.9e-324",
            "2.4703282292062328e-324",
            "2.4703282292062327e-324",
            "1e-400",
            "0.000001",
            "123456789012345678901234567890",
            "0.9999999999999999999999",
            "9.99999999999999999999",
            "00.5",
            "1e-0",
            "1E+0",
        ] {
            check_parse(token);
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = f64::from_bits(x & !(1 << 63));
            if f.is_finite() {
                check_parse(&format!("{f:e}"));
                check_parse(&format!("{:.3e}", f));
                assert_eq!(parse(&format!("{f:e}")), f);
            }
            check_parse(&(x >> (x % 64)).to_string());
        }
        assert!(parse("abc").is_nan() && parse("1e").is_nan() && parse("-").is_nan());
    }
}
