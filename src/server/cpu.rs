//! A pool of one thread per core for the CPU-heavy checks of registrations (two Ed25519 verifications,
//! SHA-256 of the body, JSON and base64, a Cedar decision: about 150 µs each).
//!
//! Why not `spawn_blocking`: the blocking pool grows a thread per waiting task, and with hundreds of
//! concurrent registrations on two cores hundreds of threads took turns, each woken for one check (perf: a
//! third of the server's CPU went to task switches and the allocator's per-thread arenas). These threads
//! never block on I/O, so one per core is enough, and while work is queued they take the next job without
//! sleeping. The pool's threads end when it is dropped.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, mpsc};

use tokio::sync::oneshot;

use super::error::ApiError;

type Task = Box<dyn FnOnce() + Send>;

/// The pool; its threads start with the first task.
#[derive(Default)]
pub(super) struct CpuPool {
    queue: Mutex<Option<mpsc::Sender<Task>>>,
}

impl CpuPool {
    /// Runs `work` on a pool thread and returns its result. A panic in `work` is an internal error; the
    /// thread survives it.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (reply, answer) = oneshot::channel();
        let task: Task = Box::new(move || {
            let _ = reply.send(work());
        });
        self.sender()?
            .send(task)
            .map_err(|_| ApiError::unavailable())?;
        answer.await.map_err(|_| {
            tracing::error!("a check panicked");
            ApiError::internal()
        })
    }

    fn sender(&self) -> Result<mpsc::Sender<Task>, ApiError> {
        let mut queue = self.queue.lock().map_err(|_| ApiError::internal())?;
        if let Some(sender) = queue.as_ref() {
            return Ok(sender.clone());
        }
        let (sender, tasks) = mpsc::channel::<Task>();
        let tasks = Arc::new(Mutex::new(tasks));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..threads {
            let tasks = Arc::clone(&tasks);
            std::thread::Builder::new()
                .name(format!("checks-{i}"))
                .spawn(move || work_loop(&tasks))
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot start the check threads");
                    ApiError::unavailable()
                })?;
        }
        *queue = Some(sender.clone());
        Ok(sender)
    }
}

fn work_loop(tasks: &Mutex<mpsc::Receiver<Task>>) {
    loop {
        let next = match tasks.lock() {
            Ok(tasks) => tasks.recv(),
            Err(_) => return,
        };
        let Ok(task) = next else { return };
        // The task's answer channel is dropped by the unwinding, which its caller sees as an error.
        let _ = catch_unwind(AssertUnwindSafe(task));
    }
}
