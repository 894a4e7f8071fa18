//! The cursor of ZSCAN over a large sorted set's member table, which keeps stable positions.
//!
//! Redis walks its dict's buckets with a reversed-bit cursor (`dictScan` in `dict.c`) so that a
//! rehash never makes a scan miss an element. A large sorted set's members sit in an
//! `IndexMap`, whose positions are dense, and removal moves an entry only from the end (swap)
//! or one place down (shift): walking positions downwards gives the same guarantee. (SCAN,
//! HSCAN and SSCAN use the segmented table's own cursor, in `table.rs`.)

/// The positions one SCAN call visits in a collection of `len` and the cursor it returns.
///
/// A whole (small) collection is returned at once with cursor 0. Otherwise positions are walked
/// downwards from the top: removals only move an entry from the end (swap) or one place down
/// (shift), never from the unvisited part into the visited one, so every entry present for the
/// whole scan is returned at least once. The cursor is the number of positions left to visit.
pub fn scan_window(cursor: u64, len: usize, count: usize, whole: bool) -> (u64, Vec<usize>) {
    if whole {
        return (0, (0..len).collect());
    }
    let top = if cursor == 0 || cursor > len as u64 {
        len
    } else {
        cursor as usize
    };
    let bottom = top.saturating_sub(count);
    (bottom as u64, (bottom..top).rev().collect())
}

#[cfg(test)]
mod tests {
    use super::scan_window;

    #[test]
    fn scan_window_walks_down() {
        assert_eq!(scan_window(0, 5, 2, false), (3, vec![4, 3]));
        assert_eq!(scan_window(3, 5, 2, false), (1, vec![2, 1]));
        assert_eq!(scan_window(1, 5, 2, false), (0, vec![0]));
        assert_eq!(scan_window(9, 2, 10, false), (0, vec![1, 0]));
        assert_eq!(scan_window(7, 3, 1, true), (0, vec![0, 1, 2]));
    }
}
