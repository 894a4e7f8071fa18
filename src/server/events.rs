//! The event bus: where a node's events (defined in [`crate::events`]) go when emitted.
//!
//! Each event is emitted at the point where the state changes (where Redis writes its log
//! line). Emitting writes the event's Redis-format log line and broadcasts it to in-process
//! observers.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::log::Logger;
pub use crate::events::Event;

/// Writes events to the log and to observers.
#[derive(Debug)]
pub struct EventBus {
    pub logger: Logger,
    observers: broadcast::Sender<Arc<Event>>,
}

impl EventBus {
    pub fn new(logger: Logger) -> EventBus {
        let (observers, _) = broadcast::channel(1024);
        EventBus { logger, observers }
    }

    pub fn emit(&self, event: Event) {
        self.logger.log(event.level(), &event.log_line());
        // No observer is fine: events are also in the log.
        let _ = self.observers.send(Arc::new(event));
    }

    /// A stream of every event emitted from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.observers.subscribe()
    }
}
