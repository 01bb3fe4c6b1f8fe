//! A typed map of the parts' and features' shared state, kept on [`crate::app::App`]:
//! each puts its own values in when the state opens (`Feature::start`), and reads
//! them back by type, so `App` never names a part.

use std::any::{Any, TypeId};
use std::collections::HashMap;

#[derive(Default)]
pub struct Registry {
    items: HashMap<TypeId, Box<dyn Any + Send + Sync>>,
}

impl Registry {
    /// Keeps `value`, replacing an earlier value of the same type.
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) {
        self.items.insert(TypeId::of::<T>(), Box::new(value));
    }

    /// The value of type `T`, if one was put in.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.items
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
    }
}

#[cfg(test)]
mod tests {
    use super::Registry;

    #[test]
    fn values_come_back_by_type() {
        struct Searches(usize);
        let mut registry = Registry::default();
        assert!(registry.get::<Searches>().is_none());
        registry.insert(Searches(2));
        registry.insert(7_u32);
        assert_eq!(registry.get::<Searches>().map(|s| s.0), Some(2));
        assert_eq!(registry.get::<u32>(), Some(&7));
        registry.insert(Searches(3));
        assert_eq!(registry.get::<Searches>().map(|s| s.0), Some(3));
    }
}
