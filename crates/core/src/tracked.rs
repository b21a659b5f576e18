//! A vector that remembers which of its items were written since the state root was last
//! computed, so that the root costs what a block changed, not what the state holds.
//!
//! [`Tracked`] reads like a slice (it dereferences to `[T]`) but hands out mutable access only
//! through [`IndexMut`], [`Tracked::push`] and [`Tracked::all_mut`], each of which records what it
//! exposed. There is no other way to write an item, so the record cannot miss a write: a new
//! mutating method added here must mark what it touches. The record is bookkeeping: two tracked
//! vectors are equal when their items are.

use std::ops::{Deref, Index, IndexMut};

/// What changed since the record was last taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    /// Every item may have changed (a pass over the whole vector).
    All,
    /// These items, each once, in the order first written.
    Some(Vec<u32>),
}

/// A vector whose writes are recorded (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct Tracked<T> {
    items: Vec<T>,
    /// Indices written since the last [`Tracked::take_changed`], each once.
    changed: Vec<u32>,
    /// One bit per item: whether it is in `changed`.
    marked: Vec<u64>,
    /// Whether every item may have changed.
    all: bool,
}

impl<T> Tracked<T> {
    /// An empty vector with nothing recorded.
    pub fn new() -> Self {
        Tracked { items: Vec::new(), changed: Vec::new(), marked: Vec::new(), all: false }
    }

    #[inline]
    fn mark(&mut self, index: usize) {
        if self.all {
            return;
        }
        let word = index / 64;
        if word >= self.marked.len() {
            self.marked.resize(word + 1, 0);
        }
        let bit = 1u64 << (index % 64);
        if self.marked[word] & bit == 0 {
            self.marked[word] |= bit;
            self.changed.push(index as u32);
        }
    }

    /// Appends an item (recorded as changed).
    pub fn push(&mut self, item: T) {
        self.mark(self.items.len());
        self.items.push(item);
    }

    /// Reserves room for `additional` more items.
    pub fn reserve(&mut self, additional: usize) {
        self.items.reserve(additional);
    }

    /// The item at `index` for writing, if there is one (recorded as changed).
    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        if index < self.items.len() {
            self.mark(index);
        }
        self.items.get_mut(index)
    }

    /// Every item for writing: the whole vector is recorded as changed.
    pub fn all_mut(&mut self) -> &mut [T] {
        self.all = true;
        self.changed.clear();
        self.marked.clear();
        &mut self.items
    }

    /// Records every item as changed without writing any (the meaning of all of them changed,
    /// e.g. through a value they are read with).
    pub fn touch_all(&mut self) {
        let _ = self.all_mut();
    }

    /// What changed since the last call, and starts a new record.
    pub fn take_changed(&mut self) -> Changed {
        if std::mem::take(&mut self.all) {
            return Changed::All;
        }
        for &i in &self.changed {
            self.marked[i as usize / 64] = 0;
        }
        Changed::Some(std::mem::take(&mut self.changed))
    }

    /// Whether anything was written since the last [`Tracked::take_changed`].
    pub fn is_changed(&self) -> bool {
        self.all || !self.changed.is_empty()
    }
}

impl<T> From<Vec<T>> for Tracked<T> {
    /// Every item recorded as changed.
    fn from(items: Vec<T>) -> Self {
        Tracked { items, changed: Vec::new(), marked: Vec::new(), all: true }
    }
}

impl<T> Deref for Tracked<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<T> Index<usize> for Tracked<T> {
    type Output = T;
    #[inline]
    fn index(&self, index: usize) -> &T {
        &self.items[index]
    }
}

impl<T> IndexMut<usize> for Tracked<T> {
    #[inline]
    fn index_mut(&mut self, index: usize) -> &mut T {
        self.mark(index);
        &mut self.items[index]
    }
}

/// Serialized as its items; deserialized with every item recorded as changed.
impl<T: serde::Serialize> serde::Serialize for Tracked<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.items.serialize(s)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Tracked<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(d).map(Tracked::from)
    }
}

impl<T: PartialEq> PartialEq for Tracked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}

impl<T: Eq> Eq for Tracked<T> {}

impl<'a, T> IntoIterator for &'a Tracked<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: every way of writing is recorded, each index once, and a take starts afresh.
    #[test]
    fn writes_are_recorded_once_each() {
        let mut v: Tracked<u32> = Tracked::new();
        v.push(1);
        v.push(2);
        v.push(3);
        v[1] += 5;
        v[1] += 5;
        let _ = v[2]; // a read
        assert_eq!(v.take_changed(), Changed::Some(vec![0, 1, 2]));
        assert!(!v.is_changed());
        let _ = v[0] + v[2];
        assert_eq!(v.take_changed(), Changed::Some(vec![]));
        v[2] = 9;
        *v.get_mut(0).unwrap() = 4;
        assert!(v.get_mut(3).is_none());
        assert_eq!(v.take_changed(), Changed::Some(vec![2, 0]));
        v.all_mut()[1] = 0;
        v[2] = 1;
        assert_eq!(v.take_changed(), Changed::All);
        assert_eq!(&*v, &[4, 0, 1]);
        let w: Tracked<u32> = vec![4, 0, 1].into();
        assert_eq!(v, w, "equality is the items'");
        for i in 0..200 {
            v.push(i);
        }
        v[150] = 7;
        let Changed::Some(changed) = v.take_changed() else { panic!() };
        assert_eq!(changed.len(), 200);
        assert_eq!(v.take_changed(), Changed::Some(vec![]));
    }
}
