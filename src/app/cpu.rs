//! Geometry work off the async workers, and never more of it at once than the machine has cores.
//!
//! Validating a polygon, cutting or uniting shapes and building an index for a past date take
//! milliseconds to seconds of CPU. Run on tokio's workers, two such requests would stall every
//! other request on a 2-core machine (`/health` included); run on tokio's blocking pool without a
//! bound, a flood of them would queue without end. Here a job runs on the blocking pool only while
//! it holds one of as many permits as there are cores, and only a bounded number of jobs may wait
//! for a permit: past that a request is refused at once with [`Busy`] (503 with `Retry-After`).

use std::sync::Arc;
use tokio::sync::Semaphore;

/// The pool is full: too many geometry jobs are running or waiting. Try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server is busy with other geometry work")]
pub struct Busy;

/// Runs CPU-heavy jobs on the blocking pool, at most `workers` at once.
#[derive(Debug, Clone)]
pub struct CpuPool {
    /// One permit per job allowed to run.
    running: Arc<Semaphore>,
    /// One permit per job allowed to run or wait; taken without waiting.
    admitted: Arc<Semaphore>,
}

impl CpuPool {
    /// A pool running `workers` jobs at once, with room for `waiting` more in line.
    pub fn new(workers: usize, waiting: usize) -> Self {
        let workers = workers.max(1);
        CpuPool {
            running: Arc::new(Semaphore::new(workers)),
            admitted: Arc::new(Semaphore::new(workers + waiting)),
        }
    }

    /// One job per core at once, and as many again waiting.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        CpuPool::new(cores, cores)
    }

    /// Runs `job` off the async workers once a permit is free; [`Busy`] at once if too many jobs
    /// are already running or waiting. A panic in `job` is resumed in the caller.
    ///
    /// A caller that goes away while the job runs does not stop it (a thread cannot be
    /// cancelled), but the job keeps its permit until it ends, so abandoned work still counts.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use wangge::app::cpu::CpuPool;
    /// let pool = CpuPool::new(1, 0);
    /// assert_eq!(pool.run(|| 6 * 7).await, Ok(42));
    /// # });
    /// ```
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| Busy)?;
        let running = self
            .running
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let done = tokio::task::spawn_blocking(move || {
            let _permits = (admitted, running);
            job()
        })
        .await;
        match done {
            Ok(value) => Ok(value),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[tokio::test]
    async fn a_full_pool_refuses_at_once_and_frees_its_permits_when_jobs_end() {
        let pool = CpuPool::new(1, 1);
        let (release, wait) = mpsc::channel::<()>();
        let (started, running) = mpsc::channel::<()>();
        let first = tokio::spawn({
            let pool = pool.clone();
            async move {
                pool.run(move || {
                    started.send(()).unwrap();
                    wait.recv().unwrap();
                })
                .await
            }
        });
        tokio::task::spawn_blocking(move || running.recv().unwrap())
            .await
            .unwrap();
        // One running, one waiting: the third is refused without waiting.
        let second = tokio::spawn({
            let pool = pool.clone();
            async move { pool.run(|| 2).await }
        });
        tokio::task::yield_now().await;
        while pool.admitted.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(|| 3).await, Err(Busy));
        release.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Ok(()));
        assert_eq!(second.await.unwrap(), Ok(2));
        assert_eq!(pool.run(|| 4).await, Ok(4));
    }

    #[tokio::test]
    #[should_panic(expected = "boom")]
    async fn a_panic_reaches_the_caller() {
        let _ = CpuPool::new(1, 0).run(|| panic!("boom")).await;
    }
}
