//! The list value: a quicklist of listpack nodes, as Redis 7.0 keeps every list
//! (`quicklist.c`, `t_list.c`).
//!
//! Each node is one buffer holding a real listpack ([`super::listpack`]): elements back to
//! back, integers in 1 to 9 bytes, each entry with a back-length so a node can be walked from
//! either end. The buffer is kept at the allocator's size class of the listpack, so most
//! pushes and pops move bytes within it instead of reallocating. A list of one node (most small lists) is just that buffer, so a
//! 10-element list costs one allocation; a longer list keeps its nodes in a ring buffer
//! (`VecDeque`) with the element count cached.
//!
//! How full a node may get is `list-max-listpack-size` ([`Fill`]): a negative value caps its
//! bytes (-1 = 4 KiB ... -5 = 64 KiB; the default -2 = 8 KiB), a positive one its entries (and
//! 8 KiB whatever the count). Pushes, inserts and merges follow `_quicklistNodeAllowInsert`
//! and `_quicklistNodeAllowMerge`, so a list built by the same commands splits into the same
//! nodes as in Redis and RDB files hold the same quicklist nodes. As in Redis 7.0, an element
//! of 1 GiB or more gets a node of its own (written to RDB as a PLAIN node), deletions never
//! merge nodes, and LSET replaces in place.
//!
//! `list-compress-depth` is accepted by the configuration but nodes are never compressed.
//!
//! Elements come out as [`Entry`] values borrowing the node (a string slice or an integer);
//! [`Entry::to_str`] makes the keyspace string a reply carries.

use std::collections::{vec_deque, VecDeque};
use std::fmt;

use super::listpack::{self, Entry, Needle, HEADER_SIZE};
use super::str::Str;

/// Elements at least this long get a node of their own (Redis's `packed_threshold`, 1 GiB).
pub const PACKED_THRESHOLD: usize = 1 << 30;
/// Byte caps of `list-max-listpack-size` -1 to -5 (`optimization_level`).
const OPTIMIZATION_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Most bytes a node limited by entry count may hold (`SIZE_SAFETY_LIMIT`).
const SIZE_SAFETY_LIMIT: usize = 8192;
/// What one more entry is assumed to add to a node besides the element's bytes
/// (`SIZE_ESTIMATE_OVERHEAD`).
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// Largest positive fill (`FILL_MAX`).
const FILL_MAX: i64 = (1 << 15) - 1;

/// How full a node may grow: `list-max-listpack-size`, clamped as `quicklistSetFill` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill(i32);

impl Default for Fill {
    fn default() -> Self {
        Fill::DEFAULT
    }
}

impl Fill {
    /// Redis's default, `-2`: nodes of at most 8 KiB.
    pub const DEFAULT: Fill = Fill(-2);

    /// The fill for a `list-max-listpack-size` value.
    pub fn new(size: i64) -> Fill {
        Fill(size.clamp(-5, FILL_MAX) as i32)
    }

    /// Whether a node of `bytes` holding `count` entries can take an element of `len` bytes.
    fn allows_insert(self, bytes: usize, count: usize, len: usize) -> bool {
        len < PACKED_THRESHOLD && self.fits(bytes + len + SIZE_ESTIMATE_OVERHEAD, count + 1)
    }

    /// Whether two nodes may become one.
    fn allows_merge(self, a: &Node, b: &Node) -> bool {
        // Less one header and terminator, with Redis's rounding (`- 11`).
        self.fits(
            (a.bytes() + b.bytes()).saturating_sub(11),
            a.count() + b.count(),
        )
    }

    fn fits(self, bytes: usize, count: usize) -> bool {
        if self.0 < 0 {
            bytes <= OPTIMIZATION_LEVEL[(-self.0 - 1) as usize]
        } else {
            bytes <= SIZE_SAFETY_LIMIT && count <= self.0 as usize
        }
    }
}

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

/// One quicklist node: a listpack at the start of its buffer (empty only in an empty list).
/// The buffer may be longer than the listpack, whose header holds its length: edits keep it
/// at the allocator's size class ([`listpack::buffer_size`]), so a push reallocates only when
/// the node crosses a class. A node is 16 bytes.
#[derive(Clone)]
struct Node(Box<[u8]>);

impl Node {
    fn of(element: &[u8]) -> Node {
        let mut lp = listpack::EMPTY.to_vec();
        listpack::insert(&mut lp, HEADER_SIZE, element);
        Node(lp.into_boxed_slice())
    }

    /// A node holding `lp` in a buffer of its exact size (as loaded, split or merged).
    fn exact(lp: Vec<u8>) -> Node {
        Node(lp.into_boxed_slice())
    }

    /// The listpack.
    fn lp(&self) -> &[u8] {
        &self.0[..self.bytes()]
    }

    /// The listpack's length (what the fill rules weigh).
    fn bytes(&self) -> usize {
        if self.0.is_empty() {
            0
        } else {
            listpack::total_bytes(&self.0)
        }
    }

    /// The buffer's length: what the node allocates.
    fn allocated(&self) -> usize {
        self.0.len()
    }

    fn count(&self) -> usize {
        if self.0.is_empty() {
            0
        } else {
            listpack::count(&self.0)
        }
    }

    /// Changes the node through one of `listpack`'s buffer edits (no copy: the buffer moves
    /// in and out of a `Vec`, whose length the edits keep equal to its capacity).
    fn edit<R>(&mut self, f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
        let mut buf = std::mem::take(&mut self.0).into_vec();
        let result = f(&mut buf);
        self.0 = buf.into_boxed_slice();
        result
    }

    /// Replaces the listpack with one `f` builds from it.
    fn rebuild(&mut self, f: impl FnOnce(&[u8]) -> Vec<u8>) {
        *self = Node::exact(f(self.lp()));
    }

    /// Inserts `element` before the first entry.
    fn prepend(&mut self, element: &[u8]) {
        self.edit(|buf| listpack::insert(buf, HEADER_SIZE, element));
    }

    /// Appends `element` after the last entry.
    fn append(&mut self, element: &[u8]) {
        let at = listpack::end(self.lp());
        self.edit(|buf| listpack::insert(buf, at, element));
    }
}

/// A list (see the module documentation). 16 bytes, so a key's value holds it unboxed.
#[derive(Clone, Default)]
pub struct List {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// No node (an empty buffer) or one.
    One(Node),
    /// Two nodes or more.
    Many(Box<Many>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::One(Node(Box::default()))
    }
}

#[derive(Clone)]
struct Many {
    nodes: VecDeque<Node>,
    /// Elements in all nodes.
    len: usize,
}

impl List {
    /// An empty list (no allocation).
    pub fn new() -> List {
        List::default()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::One(node) => node.count(),
            Repr::Many(many) => many.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of quicklist nodes.
    pub fn node_count(&self) -> usize {
        match &self.repr {
            Repr::One(node) => usize::from(!node.0.is_empty()),
            Repr::Many(many) => many.nodes.len(),
        }
    }

    fn node(&self, i: usize) -> &Node {
        match &self.repr {
            Repr::One(node) => node,
            Repr::Many(many) => &many.nodes[i],
        }
    }

    fn node_mut(&mut self, i: usize) -> &mut Node {
        match &mut self.repr {
            Repr::One(node) => node,
            Repr::Many(many) => &mut many.nodes[i],
        }
    }

    /// Accounts for entries added to (or removed from) a node in place.
    fn add_len(&mut self, delta: isize) {
        if let Repr::Many(many) = &mut self.repr {
            many.len = many.len.saturating_add_signed(delta);
        }
    }

    /// Puts `node` at node position `i`.
    fn insert_node(&mut self, i: usize, node: Node) {
        match &mut self.repr {
            Repr::One(only) if only.0.is_empty() => *only = node,
            Repr::One(only) => {
                let only = std::mem::replace(only, Node(Box::default()));
                let len = only.count() + node.count();
                let mut nodes = VecDeque::with_capacity(2);
                nodes.push_back(only);
                nodes.insert(i, node);
                self.repr = Repr::Many(Box::new(Many { nodes, len }));
            }
            Repr::Many(many) => {
                many.len += node.count();
                many.nodes.insert(i, node);
            }
        }
    }

    /// Takes out the node at position `i`.
    fn remove_node(&mut self, i: usize) -> Node {
        match &mut self.repr {
            Repr::One(only) => std::mem::replace(only, Node(Box::default())),
            Repr::Many(many) => {
                let node = many.nodes.remove(i).expect("node index in range");
                many.len -= node.count();
                // A list trimmed from many nodes to few gives back its ring.
                if many.nodes.capacity() > 64 && many.nodes.len() < many.nodes.capacity() / 4 {
                    many.nodes.shrink_to(many.nodes.len() * 2);
                }
                if many.nodes.len() == 1 {
                    let last = many.nodes.pop_front().expect("one node left");
                    self.repr = Repr::One(last);
                }
                node
            }
        }
    }

    /// Where element `index` (< len) is: its node, its index in the node and its position.
    fn locate(&self, index: usize) -> (usize, usize, usize) {
        let within = |node: &Node, k: usize| listpack::seek(node.lp(), k, node.count());
        match &self.repr {
            Repr::One(node) => (0, index, within(node, index)),
            Repr::Many(many) if index < many.len / 2 => {
                let mut k = index;
                for (i, node) in many.nodes.iter().enumerate() {
                    let count = node.count();
                    if k < count {
                        return (i, k, within(node, k));
                    }
                    k -= count;
                }
                unreachable!("index {index} below the length")
            }
            Repr::Many(many) => {
                let mut from_tail = many.len - 1 - index;
                for (i, node) in many.nodes.iter().enumerate().rev() {
                    let count = node.count();
                    if from_tail < count {
                        let k = count - 1 - from_tail;
                        return (i, k, within(node, k));
                    }
                    from_tail -= count;
                }
                unreachable!("index {index} below the length")
            }
        }
    }

    /// Pushes `element` at `end` (LPUSH/RPUSH), in the end node if it has room, else in a new
    /// node (`quicklistPushHead`/`quicklistPushTail`).
    pub fn push(&mut self, end: End, element: &[u8], fill: Fill) {
        let nodes = self.node_count();
        let i = match end {
            End::Head => 0,
            End::Tail => nodes.wrapping_sub(1),
        };
        if nodes > 0 && {
            let node = self.node(i);
            fill.allows_insert(node.bytes(), node.count(), element.len())
        } {
            let node = self.node_mut(i);
            match end {
                End::Head => node.prepend(element),
                End::Tail => node.append(element),
            }
            self.add_len(1);
        } else {
            let at = match end {
                End::Head => 0,
                End::Tail => nodes,
            };
            self.insert_node(at, Node::of(element));
        }
    }

    /// Pushes at the tail with the default fill (building lists in tests and loaders).
    pub fn push_back(&mut self, element: impl AsRef<[u8]>) {
        self.push(End::Tail, element.as_ref(), Fill::DEFAULT);
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Str> {
        let nodes = self.node_count();
        if nodes == 0 {
            return None;
        }
        let i = match end {
            End::Head => 0,
            End::Tail => nodes - 1,
        };
        let node = self.node(i);
        let at = match end {
            End::Head => HEADER_SIZE,
            End::Tail => listpack::last(node.lp()).expect("nodes are not empty"),
        };
        let value = listpack::get(node.lp(), at).to_str();
        if node.count() == 1 {
            self.remove_node(i);
        } else {
            self.node_mut(i).edit(|lp| listpack::delete(lp, at, 1));
            self.add_len(-1);
        }
        Some(value)
    }

    /// Removes up to `n` elements from `end` and returns them in the order popped.
    pub fn pop_many(&mut self, end: End, n: usize) -> Vec<Str> {
        let n = n.min(self.len());
        let popped: Vec<Str> = match end {
            End::Head => self.iter().take(n).map(Entry::to_str).collect(),
            End::Tail => self.iter().rev().take(n).map(Entry::to_str).collect(),
        };
        match end {
            End::Head => self.drop_front(n),
            End::Tail => self.drop_back(n),
        }
        popped
    }

    /// The element at `index` (< len), else None.
    pub fn get(&self, index: usize) -> Option<Entry<'_>> {
        if index >= self.len() {
            return None;
        }
        let (i, _, at) = self.locate(index);
        Some(listpack::get(self.node(i).lp(), at))
    }

    /// Replaces the element at `index` (LSET); false if out of range.
    pub fn set(&mut self, index: usize, element: &[u8]) -> bool {
        if index >= self.len() {
            return false;
        }
        let (i, _, at) = self.locate(index);
        self.node_mut(i)
            .edit(|lp| listpack::replace(lp, at, element));
        true
    }

    /// Inserts `element` so that it becomes element `index` (0..=len), as `_quicklistInsert`
    /// does: in place if the node has room, else in the previous node's tail, else by
    /// splitting the node, then merging the pieces with their neighbours where they fit.
    pub fn insert(&mut self, index: usize, element: &[u8], fill: Fill) {
        let len = self.len();
        if index == 0 || index >= len {
            let end = if index == 0 { End::Head } else { End::Tail };
            return self.push(end, element, fill);
        }
        let (i, k, at) = self.locate(index);
        let node = self.node(i);
        if fill.allows_insert(node.bytes(), node.count(), element.len()) {
            self.node_mut(i)
                .edit(|lp| listpack::insert(lp, at, element));
            self.add_len(1);
            return;
        }
        if k == 0 {
            // Before a full node's first element (index > 0, so a previous node exists).
            let prev = self.node(i - 1);
            if fill.allows_insert(prev.bytes(), prev.count(), element.len()) {
                self.node_mut(i - 1).append(element);
                self.add_len(1);
            } else {
                self.insert_node(i, Node::of(element));
            }
            return;
        }
        let whole = self.remove_node(i);
        let count = whole.count();
        let whole_lp = whole.lp();
        let mut left = Node::exact(listpack::slice(whole_lp, HEADER_SIZE, at, k));
        let end = listpack::end(whole_lp);
        let mut right = Node::exact(listpack::slice(whole_lp, at, end, count - k));
        drop(whole);
        let mut pieces = Vec::with_capacity(3);
        if fill.allows_insert(left.bytes(), left.count(), element.len()) {
            left.append(element);
            pieces.extend([left, right]);
        } else if fill.allows_insert(right.bytes(), right.count(), element.len()) {
            right.prepend(element);
            pieces.extend([left, right]);
        } else {
            pieces.extend([left, Node::of(element), right]);
        }
        let last = i + pieces.len() - 1;
        for (j, piece) in pieces.into_iter().enumerate() {
            self.insert_node(i + j, piece);
        }
        self.try_merge(last, fill);
        if i > 0 {
            self.try_merge(i - 1, fill);
        }
    }

    /// Merges node `a` with the node after it if both fit in one (`_quicklistListpackMerge`).
    fn try_merge(&mut self, a: usize, fill: Fill) -> bool {
        if a + 1 >= self.node_count() || !fill.allows_merge(self.node(a), self.node(a + 1)) {
            return false;
        }
        let b = self.remove_node(a + 1);
        let added = b.count();
        self.node_mut(a).rebuild(|lp| listpack::merge(lp, b.lp()));
        self.add_len(added as isize);
        true
    }

    /// Index of the first element equal to `element`, from the head.
    pub fn position(&self, element: &[u8]) -> Option<usize> {
        let needle = Needle::new(element);
        self.iter().position(|e| needle.matches(e))
    }

    /// Removes up to `limit` elements equal to `element`, from the head or, with `from_tail`,
    /// from the tail (LREM); returns how many went.
    pub fn remove(&mut self, element: &[u8], limit: usize, from_tail: bool) -> usize {
        let needle = Needle::new(element);
        let mut removed = 0;
        let mut i = if from_tail {
            self.node_count().wrapping_sub(1)
        } else {
            0
        };
        while removed < limit && i < self.node_count() {
            let lp = self.node(i).lp();
            let mut matches = Vec::new();
            let mut p = listpack::first(lp);
            while let Some(at) = p {
                if needle.matches(listpack::get(lp, at)) {
                    matches.push(at);
                }
                p = listpack::next(lp, at);
            }
            let wanted = limit - removed;
            if matches.len() > wanted {
                if from_tail {
                    matches.drain(..matches.len() - wanted);
                } else {
                    matches.truncate(wanted);
                }
            }
            removed += matches.len();
            let node_gone = !matches.is_empty() && matches.len() == self.node(i).count();
            if node_gone {
                self.remove_node(i);
            } else if !matches.is_empty() {
                let n = matches.len();
                self.node_mut(i)
                    .rebuild(|lp| listpack::without(lp, &matches));
                self.add_len(-(n as isize));
            }
            if from_tail {
                i = i.wrapping_sub(1);
            } else if !node_gone {
                i += 1;
            }
        }
        removed
    }

    /// Removes `n` elements from the head (LTRIM's left part).
    pub fn drop_front(&mut self, mut n: usize) {
        while n > 0 && self.node_count() > 0 {
            let count = self.node(0).count();
            if count <= n {
                self.remove_node(0);
                n -= count;
            } else {
                self.node_mut(0)
                    .edit(|lp| listpack::delete(lp, HEADER_SIZE, n));
                self.add_len(-(n as isize));
                n = 0;
            }
        }
    }

    /// Removes `n` elements from the tail (LTRIM's right part).
    pub fn drop_back(&mut self, mut n: usize) {
        while n > 0 && self.node_count() > 0 {
            let last = self.node_count() - 1;
            let count = self.node(last).count();
            if count <= n {
                self.remove_node(last);
                n -= count;
            } else {
                let node = self.node_mut(last);
                let at = listpack::seek(node.lp(), count - n, count);
                node.edit(|buf| listpack::delete(buf, at, n));
                self.add_len(-(n as isize));
                n = 0;
            }
        }
    }

    /// The elements from the head; `.rev()` walks from the tail.
    pub fn iter(&self) -> Iter<'_> {
        let len = self.len();
        Iter {
            nodes: match &self.repr {
                Repr::One(node) if node.0.is_empty() => NodeIter::One([].iter()),
                Repr::One(node) => NodeIter::One(std::slice::from_ref(node).iter()),
                Repr::Many(many) => NodeIter::Many(many.nodes.iter()),
            },
            front: None,
            back: None,
            met: false,
            remaining: len,
        }
    }

    /// The elements `start..=end` (both below len, `start <= end`), from `start`.
    pub fn range(&self, start: usize, end: usize) -> Iter<'_> {
        let (i, _, first) = self.locate(start);
        let (j, _, last) = self.locate(end);
        let front_lp = self.node(i).lp();
        let back_lp = self.node(j).lp();
        Iter {
            nodes: match &self.repr {
                Repr::One(_) => NodeIter::One([].iter()),
                Repr::Many(many) => NodeIter::Many(many.nodes.range(i + 1..j.max(i + 1))),
            },
            front: Some((front_lp, first)),
            back: Some((back_lp, listpack::skip(back_lp, last))),
            met: i == j,
            remaining: end - start + 1,
        }
    }

    /// The elements `start..=end` (both below len, `start <= end`), head to tail only: unlike
    /// [`List::range`] it does not look for `end` first (LRANGE).
    pub fn range_forward(
        &self,
        start: usize,
        end: usize,
    ) -> impl ExactSizeIterator<Item = Entry<'_>> {
        let (i, _, first) = self.locate(start);
        Iter {
            nodes: match &self.repr {
                Repr::One(_) => NodeIter::One([].iter()),
                Repr::Many(many) => NodeIter::Many(many.nodes.range(i + 1..)),
            },
            front: Some((self.node(i).lp(), first)),
            // No back end: `remaining` stops the walk at `end`.
            back: None,
            met: true,
            remaining: end - start + 1,
        }
    }

    /// The nodes' listpacks, head first (what RDB's QUICKLIST_2 stores).
    pub fn listpacks(&self) -> impl Iterator<Item = &[u8]> {
        let nodes = match &self.repr {
            Repr::One(node) if node.0.is_empty() => NodeIter::One([].iter()),
            Repr::One(node) => NodeIter::One(std::slice::from_ref(node).iter()),
            Repr::Many(many) => NodeIter::Many(many.nodes.iter()),
        };
        nodes.map(Node::lp)
    }

    /// Appends a whole listpack as the new tail node, as RDB loading does
    /// (`quicklistAppendListpack`); an empty one is skipped. The listpack is checked first.
    pub fn append_listpack(&mut self, lp: Vec<u8>) -> Result<(), String> {
        let count = listpack::validate(&lp)?;
        if count == 0 {
            return Ok(());
        }
        let node = Node::exact(lp);
        if count >= u16::MAX as usize {
            // Too many entries for the header to count (never written by Redis, whose nodes
            // hold at most 32767): re-pack, so that no node needs walking to be counted.
            for entry in decode_node(&node) {
                self.push_back(&entry);
            }
            return Ok(());
        }
        let at = self.node_count();
        self.insert_node(at, node);
        Ok(())
    }

    /// Bytes this list allocates besides its own 16: the nodes' buffers and, for several
    /// nodes, their ring and its header.
    pub fn heap_bytes(&self) -> usize {
        match &self.repr {
            Repr::One(node) => node.allocated(),
            Repr::Many(many) => {
                std::mem::size_of::<Many>()
                    + many.nodes.capacity() * std::mem::size_of::<Node>()
                    + many.nodes.iter().map(Node::allocated).sum::<usize>()
            }
        }
    }

    /// An estimate of [`List::heap_bytes`] from the first `samples` nodes (0 = all), as Redis's
    /// `objectComputeSize` samples quicklist nodes for `MEMORY USAGE`.
    pub fn sampled_heap_bytes(&self, samples: usize) -> usize {
        let nodes = self.node_count();
        let taken = if samples == 0 {
            nodes
        } else {
            samples.min(nodes)
        };
        if taken == 0 || taken == nodes {
            return self.heap_bytes();
        }
        let sampled: usize = match &self.repr {
            Repr::One(node) => node.allocated(),
            Repr::Many(many) => many.nodes.iter().take(taken).map(Node::allocated).sum(),
        };
        let per_node = sampled / taken + std::mem::size_of::<Node>();
        std::mem::size_of::<Many>() + per_node * nodes
    }
}

/// The elements of a node (re-packing a listpack whose header count is unknown).
fn decode_node(node: &Node) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let lp = node.lp();
    let mut p = listpack::first(lp);
    while let Some(at) = p {
        out.push(listpack::get(lp, at).to_vec());
        p = listpack::next(lp, at);
    }
    out
}

/// The nodes an iterator walks: a list's one node (or none), or a range of its ring.
enum NodeIter<'a> {
    One(std::slice::Iter<'a, Node>),
    Many(vec_deque::Iter<'a, Node>),
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = &'a Node;
    fn next(&mut self) -> Option<&'a Node> {
        match self {
            NodeIter::One(it) => it.next(),
            NodeIter::Many(it) => it.next(),
        }
    }
}

impl<'a> DoubleEndedIterator for NodeIter<'a> {
    fn next_back(&mut self) -> Option<&'a Node> {
        match self {
            NodeIter::One(it) => it.next_back(),
            NodeIter::Many(it) => it.next_back(),
        }
    }
}

/// An iterator over a list's elements, from either end ([`List::iter`], [`List::range`]).
pub struct Iter<'a> {
    /// Nodes neither end has reached yet.
    nodes: NodeIter<'a>,
    /// The front's node and the position of its next entry.
    front: Option<(&'a [u8], usize)>,
    /// The back's node and the position just after its next entry.
    back: Option<(&'a [u8], usize)>,
    /// True once both ends are in the same node.
    met: bool,
    /// Elements left between the two ends.
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            if let Some((lp, at)) = self.front {
                if at < listpack::end(lp) {
                    let (entry, next) = listpack::read(lp, at);
                    self.front = Some((lp, next));
                    self.remaining -= 1;
                    return Some(entry);
                }
            }
            let lp = match self.nodes.next() {
                Some(node) => node.lp(),
                None => match self.back {
                    Some((lp, _)) if !self.met => {
                        self.met = true;
                        lp
                    }
                    _ => return None,
                },
            };
            self.front = Some((lp, HEADER_SIZE));
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<Entry<'a>> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            if let Some((lp, after)) = self.back {
                if let Some(at) = listpack::prev(lp, after) {
                    self.back = Some((lp, at));
                    self.remaining -= 1;
                    return Some(listpack::get(lp, at));
                }
            }
            let lp = match self.nodes.next_back() {
                Some(node) => node.lp(),
                None => match self.front {
                    Some((lp, _)) if !self.met => {
                        self.met = true;
                        lp
                    }
                    _ => return None,
                },
            };
            self.back = Some((lp, listpack::end(lp)));
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<T: AsRef<[u8]>> FromIterator<T> for List {
    fn from_iter<I: IntoIterator<Item = T>>(elements: I) -> List {
        let mut list = List::new();
        list.extend(elements);
        list
    }
}

impl<T: AsRef<[u8]>> Extend<T> for List {
    fn extend<I: IntoIterator<Item = T>>(&mut self, elements: I) {
        for element in elements {
            self.push_back(element);
        }
    }
}

/// Lists are equal when they hold the same elements, however they are split into nodes.
impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|e| String::from_utf8_lossy(&e.to_vec()).into_owned()),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn elements(list: &List) -> Vec<Vec<u8>> {
        list.iter().map(Entry::to_vec).collect()
    }

    /// Every node is a valid listpack, none is empty, the cached length is right and no node
    /// is past the fill (`slack` bytes allowed for in-place replacements).
    fn check(list: &List, fill: Fill) {
        let mut total = 0;
        for lp in list.listpacks() {
            let count = listpack::validate(lp).expect("a valid node");
            assert!(count > 0, "an empty node");
            total += count;
            if count > 1 {
                assert!(
                    fill.fits(lp.len(), count),
                    "node of {} bytes, {count} entries",
                    lp.len()
                );
            }
        }
        assert_eq!(total, list.len());
        assert_eq!(list.node_count(), list.listpacks().count());
    }

    #[test]
    fn a_list_is_16_bytes_and_a_small_one_is_a_single_listpack() {
        assert_eq!(std::mem::size_of::<List>(), 16);
        let list: List = ["a", "b", "c"].into_iter().collect();
        assert_eq!(list.node_count(), 1);
        assert_eq!(
            list.listpacks().next().unwrap(),
            [0x10, 0, 0, 0, 3, 0, 0x81, b'a', 2, 0x81, b'b', 2, 0x81, b'c', 2, 0xff]
        );
        assert_eq!(list.heap_bytes(), 16);
        assert_eq!(List::new().heap_bytes(), 0);
    }

    #[test]
    fn nodes_split_at_the_size_limit_as_redis_splits_them() {
        // 8 KiB nodes: a node takes an element while its bytes + the element + 8 stay within
        // 8192, so 17-byte elements (19 bytes each in the listpack) fill 430 per node, a node
        // of 8177 bytes.
        let mut list = List::new();
        for i in 0..1000 {
            list.push(
                End::Tail,
                format!("element:{i:09}").as_bytes(),
                Fill::DEFAULT,
            );
        }
        let counts: Vec<usize> = list.listpacks().map(listpack::count).collect();
        assert_eq!(counts, [430, 430, 140]);
        for lp in list.listpacks() {
            assert!(lp.len() <= 8192);
        }
        check(&list, Fill::DEFAULT);
        // A positive fill counts entries.
        let mut list = List::new();
        for i in 0..10 {
            list.push(End::Head, i.to_string().as_bytes(), Fill::new(4));
        }
        let counts: Vec<usize> = list.listpacks().map(listpack::count).collect();
        assert_eq!(counts, [2, 4, 4]);
        let mut list = List::new();
        for i in 0..3 {
            list.push(End::Tail, i.to_string().as_bytes(), Fill::new(0));
        }
        assert_eq!(list.node_count(), 3, "fill 0: one element per node");
        assert_eq!(Fill::new(-100), Fill::new(-5));
        assert_eq!(Fill::new(1 << 20), Fill::new(FILL_MAX));
    }

    #[test]
    fn an_insert_into_a_full_node_splits_it_and_merges_what_fits() {
        let fill = Fill::new(4);
        let mut list: List = List::new();
        for e in ["a", "b", "c", "d", "e", "f", "g", "h"] {
            list.push(End::Tail, e.as_bytes(), fill);
        }
        let counts = |l: &List| l.listpacks().map(listpack::count).collect::<Vec<_>>();
        assert_eq!(counts(&list), [4, 4]);
        list.insert(2, b"X", fill);
        assert_eq!(
            elements(&list),
            ["a", "b", "X", "c", "d", "e", "f", "g", "h"].map(|s| s.as_bytes().to_vec())
        );
        // [a b X] [c d] [e f g h]: the split's right half could not take more.
        assert_eq!(counts(&list), [3, 2, 4]);
        check(&list, fill);
        // Emptying the middle leaves two nodes that now fit in one: the next split merges.
        list.remove(b"c", 1, false);
        list.insert(1, b"Y", fill);
        check(&list, fill);
        assert_eq!(
            elements(&list),
            ["a", "Y", "b", "X", "d", "e", "f", "g", "h"].map(|s| s.as_bytes().to_vec())
        );
        assert_eq!(list.len(), 9);
        // Before a full node's first element: the previous node's tail takes it.
        let mut list: List = List::new();
        for e in ["a", "b", "c", "d", "e", "f", "g", "h", "i"] {
            list.push(End::Tail, e.as_bytes(), fill);
        }
        list.pop(End::Head);
        assert_eq!(counts(&list), [3, 4, 1]);
        list.insert(3, b"Z", fill);
        assert_eq!(counts(&list), [4, 4, 1]);
        assert_eq!(
            elements(&list),
            ["b", "c", "d", "Z", "e", "f", "g", "h", "i"].map(|s| s.as_bytes().to_vec())
        );
        // Before the first element of a full node whose previous node is full too: a new node.
        list.insert(4, b"W", fill);
        assert_eq!(counts(&list), [4, 1, 4, 1]);
        check(&list, fill);
    }

    #[test]
    fn random_operations_match_a_vecdeque() {
        for (seed, fill) in [
            (1, Fill::new(3)),
            (2, Fill::new(-1)),
            (3, Fill::new(0)),
            (4, Fill::DEFAULT),
        ] {
            let mut rng = StdRng::seed_from_u64(seed);
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            let mut list = List::new();
            for step in 0..4000 {
                let element: Vec<u8> = match rng.gen_range(0..4) {
                    0 => rng.gen_range(-70_000i64..70_000).to_string().into_bytes(),
                    1 => format!("e{}", rng.gen_range(0..20)).into_bytes(),
                    2 => vec![b'x'; rng.gen_range(0..300)],
                    _ => rng.gen_range(0..5).to_string().into_bytes(),
                };
                let len = model.len();
                match rng.gen_range(0..12) {
                    0 | 1 => {
                        list.push(End::Head, &element, fill);
                        model.push_front(element);
                    }
                    2 | 3 => {
                        list.push(End::Tail, &element, fill);
                        model.push_back(element);
                    }
                    4 => assert_eq!(list.pop(End::Head).map(|s| s.to_vec()), model.pop_front()),
                    5 => assert_eq!(list.pop(End::Tail).map(|s| s.to_vec()), model.pop_back()),
                    6 => {
                        let at = rng.gen_range(0..=len);
                        list.insert(at, &element, fill);
                        model.insert(at, element);
                    }
                    7 if len > 0 => {
                        let at = rng.gen_range(0..len);
                        assert!(list.set(at, &element));
                        model[at] = element;
                    }
                    8 => {
                        let limit = rng.gen_range(0..4usize);
                        let limit = if limit == 0 { usize::MAX } else { limit };
                        let from_tail = rng.gen_bool(0.5);
                        let mut removed = 0;
                        let mut kept: Vec<Vec<u8>> = model.iter().cloned().collect();
                        if from_tail {
                            kept.reverse();
                        }
                        kept.retain(|e| {
                            let doomed = removed < limit && *e == element;
                            removed += usize::from(doomed);
                            !doomed
                        });
                        if from_tail {
                            kept.reverse();
                        }
                        assert_eq!(list.remove(&element, limit, from_tail), removed);
                        model = kept.into();
                    }
                    9 => {
                        let n = rng.gen_range(0..5);
                        let end = if rng.gen_bool(0.5) {
                            End::Head
                        } else {
                            End::Tail
                        };
                        let popped: Vec<Vec<u8>> =
                            list.pop_many(end, n).iter().map(|s| s.to_vec()).collect();
                        let expected: Vec<Vec<u8>> = (0..n.min(len))
                            .filter_map(|_| match end {
                                End::Head => model.pop_front(),
                                End::Tail => model.pop_back(),
                            })
                            .collect();
                        assert_eq!(popped, expected);
                    }
                    10 if len > 0 && rng.gen_bool(0.2) => {
                        let left = rng.gen_range(0..=len.min(3));
                        let right = rng.gen_range(0..=(len - left).min(3));
                        list.drop_front(left);
                        list.drop_back(right);
                        model.drain(..left);
                        model.truncate(model.len() - right);
                    }
                    _ if len > 0 => {
                        let start = rng.gen_range(0..len);
                        let end = rng.gen_range(start..len);
                        let got: Vec<Vec<u8>> = list.range(start, end).map(Entry::to_vec).collect();
                        let forward: Vec<Vec<u8>> =
                            list.range_forward(start, end).map(Entry::to_vec).collect();
                        assert_eq!(forward, got);
                        let want: Vec<Vec<u8>> = model.range(start..=end).cloned().collect();
                        assert_eq!(got, want);
                        let back: Vec<Vec<u8>> =
                            list.range(start, end).rev().map(Entry::to_vec).collect();
                        assert_eq!(back, want.iter().rev().cloned().collect::<Vec<_>>());
                        let i = rng.gen_range(0..len);
                        assert_eq!(list.get(i).map(Entry::to_vec).as_ref(), model.get(i));
                        assert_eq!(
                            list.position(&element),
                            model.iter().position(|e| *e == element)
                        );
                    }
                    _ => {}
                }
                assert_eq!(list.len(), model.len(), "seed {seed} step {step}");
                if step % 50 == 0 {
                    check(&list, fill);
                    assert_eq!(elements(&list), Vec::from(model.clone()));
                    // Both ends walking towards each other meet exactly.
                    let mut it = list.iter();
                    let mut front = Vec::new();
                    let mut back = Vec::new();
                    while let Some(e) = if rng.gen_bool(0.5) {
                        it.next().map(|e| (true, e))
                    } else {
                        it.next_back().map(|e| (false, e))
                    } {
                        if e.0 {
                            front.push(e.1.to_vec())
                        } else {
                            back.push(e.1.to_vec())
                        }
                    }
                    back.reverse();
                    front.extend(back);
                    assert_eq!(front, Vec::from(model.clone()));
                }
            }
        }
    }

    #[test]
    fn loaded_listpacks_are_kept_as_nodes() {
        let mut b = listpack::Builder::new();
        for e in ["1", "two", "3"] {
            b.push(e.as_bytes());
        }
        let node = b.finish();
        let mut list = List::new();
        list.append_listpack(node.clone()).unwrap();
        list.append_listpack(listpack::EMPTY.to_vec()).unwrap();
        list.append_listpack(node.clone()).unwrap();
        assert_eq!(list.node_count(), 2);
        assert_eq!(list.len(), 6);
        assert!(list.listpacks().all(|lp| lp == &node[..]));
        assert!(list
            .append_listpack(node[..node.len() - 1].to_vec())
            .is_err());
        // 70000 entries: a header count of "unknown"; the elements are re-packed in nodes.
        let mut b = listpack::Builder::new();
        for _ in 0..70_000 {
            b.push(b"7");
        }
        let mut many = List::new();
        many.append_listpack(b.finish()).unwrap();
        assert_eq!(many.len(), 70_000);
        assert!(many.node_count() > 1);
        check(&many, Fill::DEFAULT);
        many.drop_front(69_990);
        assert_eq!(many.len(), 10);
        assert!(many.heap_bytes() < 1000, "{}", many.heap_bytes());
        let same: List = ["1", "two", "3", "1", "two", "3"].into_iter().collect();
        assert_eq!(list, same, "equal by elements, not by nodes");
        assert_eq!(format!("{same:?}"), r#"["1", "two", "3", "1", "two", "3"]"#);
    }
}
