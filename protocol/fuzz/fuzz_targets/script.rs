//! The scripts the state-machine targets read from their input: steps of an opcode byte, a
//! target byte (which session, socket or transport), and a chunk up to the next 0xFF.

/// One step of a script.
pub struct Step<'a> {
    pub op: u8,
    pub who: u8,
    pub chunk: &'a [u8],
}

/// The steps of `data`, in order.
pub fn steps(mut rest: &[u8]) -> impl Iterator<Item = Step<'_>> {
    std::iter::from_fn(move || {
        let [op, who, tail @ ..] = rest else { return None };
        let end = tail.iter().position(|&b| b == 0xff).unwrap_or(tail.len());
        let step = Step { op: *op, who: *who, chunk: &tail[..end] };
        rest = tail.get(end + 1..).unwrap_or(&[]);
        Some(step)
    })
}
