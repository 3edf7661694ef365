//! A first-in first-out queue for the client machines (their outputs, the engine's write
//! buffer, its transports to try).
//!
//! A `Vec` read from a cursor: cleared once read to its end (outputs are polled until none is
//! left after each input), its read part dropped by [`Fifo::compact`] where it may never be (a
//! write buffer under a steady flow of emits). Pushes and pops are O(1) amortized as with
//! `VecDeque`, whose ring-buffer code, made once per item type, weighs more in the browser
//! client's wasm (measured in docs/ARCHITECTURE.md).

/// A FIFO queue: [`Fifo::push`] at the back, [`Fifo::pop`] from the front.
#[derive(Debug, Clone)]
pub(crate) struct Fifo<T> {
    /// The items pushed; those before `head` were popped (`None`).
    items: Vec<Option<T>>,
    /// The index of the next item to pop.
    head: usize,
}

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo { items: Vec::new(), head: 0 }
    }
}

impl<T> Fifo<T> {
    /// Adds `item` at the back.
    pub(crate) fn push(&mut self, item: T) {
        self.items.push(Some(item));
    }

    /// Removes and returns the item at the front; once the queue is read to its end, its
    /// storage is reused from the start.
    pub(crate) fn pop(&mut self) -> Option<T> {
        let item = self.items.get_mut(self.head)?.take();
        self.head += 1;
        if self.head == self.items.len() {
            self.items.clear();
            self.head = 0;
        }
        item
    }

    /// Drops the read part of the storage once it is the larger one: for a queue that may
    /// never be read to its end (a write buffer under a steady flow of emits), called after
    /// popping. Each item left moves once for at least as many popped: O(1) amortized.
    pub(crate) fn compact(&mut self) {
        if self.head > 32 && self.head * 2 > self.items.len() {
            self.items = self.items.split_off(self.head);
            self.head = 0;
        }
    }

    /// The item at the front, left in the queue.
    pub(crate) fn front(&self) -> Option<&T> {
        self.items.get(self.head)?.as_ref()
    }

    /// Whether no item waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.head == self.items.len()
    }

    /// Moves the waiting items of `front` before those of this queue.
    pub(crate) fn prepend(&mut self, mut front: Fifo<T>) {
        while let Some(item) = self.pop() {
            front.push(item);
        }
        *self = front;
    }

    /// Keeps only the waiting items for which `keep` is true, in their order.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.items.retain(|item| item.as_ref().is_some_and(&mut keep));
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::Fifo;

    #[test]
    fn pops_in_push_order_across_interleaved_pushes_and_resets() {
        let mut q = Fifo::default();
        assert!(q.is_empty());
        assert_eq!(q.pop(), None::<u32>);
        q.push(1);
        q.push(2);
        assert_eq!(q.pop(), Some(1));
        q.push(3);
        assert!(!q.is_empty());
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), Some(3));
        assert!(q.is_empty());
        assert_eq!(q.items.len(), 0, "read to its end, the storage is reused");
        q.push(4);
        assert_eq!(q.pop(), Some(4));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn a_queue_that_never_empties_keeps_its_storage_bounded() {
        let mut q = Fifo::default();
        q.push(0u32);
        for i in 1..10_000 {
            q.push(i);
            assert_eq!(q.pop(), Some(i - 1));
            q.compact();
            assert!(q.items.len() <= 66, "{} slots for 1 waiting item", q.items.len());
        }
        assert_eq!(q.pop(), Some(9_999));
        assert!(q.is_empty());
    }

    #[test]
    fn prepend_puts_a_queue_in_front() {
        let mut front = Fifo::default();
        front.push(1);
        front.push(2);
        assert_eq!(front.pop(), Some(1));
        let mut q = Fifo::default();
        q.push(3);
        q.prepend(front);
        assert_eq!(q.pop(), Some(2));
        assert_eq!(q.pop(), Some(3));
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn retain_keeps_the_waiting_items_in_order() {
        let mut q = Fifo::default();
        for i in 0..6 {
            q.push(i);
        }
        assert_eq!(q.pop(), Some(0));
        assert_eq!(q.front(), Some(&1));
        q.retain(|&i| i % 2 == 1);
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.pop(), Some(3));
        assert_eq!(q.pop(), Some(5));
        assert!(q.is_empty());
        assert_eq!(q.pop(), None);
    }
}
