//! Random picks from a collection: what HRANDFIELD, SRANDMEMBER, ZRANDMEMBER and SPOP ask for.
//!
//! The command turns its count into [`Picks`] (a positive count asks for distinct elements, a
//! negative one allows repeats); each value type then picks in the way its form allows: by
//! position in a packed buffer or an intset ([`positions`]), by random bucket in a table
//! (`KeyTable::sample`).

use rand::Rng;

/// How many random elements, and whether one may come back more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Picks {
    /// This many different elements, or all of them if there are fewer.
    Distinct(usize),
    /// Exactly this many picks, each from the whole collection.
    Repeated(usize),
}

/// Random positions below `len` for `picks`: distinct ones in random order (all of them, in
/// order, when the count reaches `len`), or independent ones. None at all when `len` is 0.
pub fn positions(rng: &mut impl Rng, len: usize, picks: Picks) -> Vec<usize> {
    match picks {
        _ if len == 0 => Vec::new(),
        Picks::Repeated(count) => (0..count).map(|_| rng.gen_range(0..len)).collect(),
        Picks::Distinct(count) if count >= len => (0..len).collect(),
        Picks::Distinct(count) => rand::seq::index::sample(rng, len, count).into_vec(),
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn positions_are_distinct_or_repeated_and_below_len() {
        let mut rng = StdRng::seed_from_u64(5);
        let mut distinct = positions(&mut rng, 10, Picks::Distinct(5));
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 5);
        assert!(distinct.iter().all(|&p| p < 10));
        assert_eq!(positions(&mut rng, 3, Picks::Distinct(10)), [0, 1, 2]);
        let repeated = positions(&mut rng, 3, Picks::Repeated(10));
        assert_eq!(repeated.len(), 10);
        assert!(repeated.iter().all(|&p| p < 3));
        assert!(positions(&mut rng, 0, Picks::Repeated(5)).is_empty());
        assert!(positions(&mut rng, 4, Picks::Distinct(0)).is_empty());
    }
}
