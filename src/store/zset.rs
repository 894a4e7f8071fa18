//! The sorted set value: members ordered by `(score, member)`, with a member → score index.
//!
//! Redis keeps a skiplist plus a dict (`t_zset.c`); here a `BTreeSet` ordered by
//! `(score, member)` plays the skiplist's part and a `HashMap` the dict's. Rank queries walk the
//! tree, so they cost O(rank) instead of the skiplist's O(log n); the workloads redislab is
//! measured on (ZADD, ZPOPMIN, ranges from either end) do not pay for that.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;

/// A score with the total order Redis uses: numeric order, `-0.0 == 0.0`, never NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score(f64);

impl Score {
    /// Wraps a score, folding `-0.0` into `0.0`. The caller has rejected NaN already
    /// (Redis answers `ERR resulting score is not a number (NaN)`).
    pub fn new(value: f64) -> Score {
        debug_assert!(!value.is_nan(), "zset scores are never NaN");
        Score(if value == 0.0 { 0.0 } else { value })
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A sorted set. Members are unique; iteration is ascending by `(score, member)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ZSet {
    scores: HashMap<Bytes, Score>,
    ordered: BTreeSet<(Score, Bytes)>,
}

impl ZSet {
    pub fn new() -> ZSet {
        ZSet::default()
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The score of `member`, if present.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).map(|s| s.get())
    }

    /// Inserts or updates `member` with `score`. Returns the previous score.
    pub fn insert(&mut self, member: Bytes, score: f64) -> Option<f64> {
        let score = Score::new(score);
        match self.scores.get_mut(&member) {
            Some(old) => {
                let previous = *old;
                if previous != score {
                    self.ordered.remove(&(previous, member.clone()));
                    *old = score;
                    self.ordered.insert((score, member));
                }
                Some(previous.get())
            }
            None => {
                self.scores.insert(member.clone(), score);
                self.ordered.insert((score, member));
                None
            }
        }
    }

    /// Removes `member`; returns its score if it was present.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (member, score) = self.scores.remove_entry(member)?;
        self.ordered.remove(&(score, member));
        Some(score.get())
    }

    /// Ascending iteration by `(score, member)`.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Bytes, f64)> + '_ {
        self.ordered.iter().map(|(s, m)| (m, s.get()))
    }

    /// The 0-based ascending rank of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = *self.scores.get(member)?;
        Some(
            self.ordered
                .range(..(score, Bytes::copy_from_slice(member)))
                .count(),
        )
    }

    /// Entries with `min <= (score, member)` in ascending order: the underlying ordered set, for
    /// range queries by score or lexicographic bounds.
    pub fn ordered(&self) -> &BTreeSet<(Score, Bytes)> {
        &self.ordered
    }

    /// Removes and returns the lowest (`from_max == false`) or highest entry.
    pub fn pop(&mut self, from_max: bool) -> Option<(Bytes, f64)> {
        let entry = if from_max {
            self.ordered.pop_last()?
        } else {
            self.ordered.pop_first()?
        };
        self.scores.remove(&entry.1);
        Some((entry.1, entry.0.get()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_score_then_member_and_updates_in_place() {
        let mut z = ZSet::new();
        z.insert(Bytes::from("b"), 1.0);
        z.insert(Bytes::from("a"), 1.0);
        z.insert(Bytes::from("c"), 0.5);
        assert_eq!(z.insert(Bytes::from("c"), 2.0), Some(0.5));
        let order: Vec<_> = z.iter().map(|(m, s)| (m.clone(), s)).collect();
        assert_eq!(
            order,
            vec![
                (Bytes::from("a"), 1.0),
                (Bytes::from("b"), 1.0),
                (Bytes::from("c"), 2.0)
            ]
        );
        assert_eq!(z.rank(b"c"), Some(2));
        assert_eq!(z.remove(b"a"), Some(1.0));
        assert_eq!(z.len(), 2);
        assert_eq!(z.pop(false), Some((Bytes::from("b"), 1.0)));
    }

    #[test]
    fn negative_zero_equals_zero() {
        let mut z = ZSet::new();
        z.insert(Bytes::from("a"), -0.0);
        assert_eq!(z.insert(Bytes::from("a"), 0.0), Some(0.0));
        assert_eq!(z.ordered().len(), 1);
    }
}
