//! Stopping a running `llama_decode` when its job is cancelled. Without this a cancelled job
//! runs on until its prompt chunk (up to `PROMPT_CHUNK` tokens, seconds on a slow CPU) is
//! evaluated; llama.cpp asks an abort callback between the nodes of its compute graph, and
//! answers an aborted decode with status 2 after removing that batch's cells from the KV cache.
//!
//! llama-cpp-2 0.1.160 has no setter for the callback, so it is written into the raw
//! `llama_context_params` that `LlamaContextParams` wraps (see `with_abort_callback`).

use std::ffi::c_void;
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, Ordering};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_sys_2::llama_context_params;

use super::running::Running;
use super::{JobHandle, JobState};

/// `llama_decode`'s status for a decode stopped by the abort callback.
pub const DECODE_ABORTED: i32 = 2;

/// The job whose decode the callback watches; null between jobs. Lives in a `Box` whose address
/// the context holds, and outlives the context. A cancelled job's decode stops when `running`
/// says a job waits that cannot use it, or that it is throwaway work.
pub struct AbortWatch {
    job: AtomicPtr<JobState>,
    running: Arc<Running>,
}

impl AbortWatch {
    pub fn new(running: Arc<Running>) -> Self {
        Self { job: AtomicPtr::default(), running }
    }

    /// Watches `job` until `clear`. The engine thread calls this around each job; the callback
    /// runs only inside `llama_decode` on that thread's behalf, so `job` (borrowed for the whole
    /// job) outlives every read of the pointer.
    pub fn watch(&self, job: &JobHandle) {
        self.job.store(std::sync::Arc::as_ptr(&job.0).cast_mut(), Ordering::Release);
    }

    pub fn clear(&self) {
        self.job.store(std::ptr::null_mut(), Ordering::Release);
    }

    fn should_abort(&self) -> bool {
        let job = self.job.load(Ordering::Acquire);
        // SAFETY: non-null only while the engine thread holds the job (see `watch`).
        !job.is_null() && unsafe { &*job }.abort_check(|| self.running.abort_cancelled())
    }
}

/// Called by llama.cpp's compute threads between graph nodes: `true` stops the decode.
unsafe extern "C" fn should_abort(data: *mut c_void) -> bool {
    // SAFETY: `data` is the `AbortWatch` given to `with_abort_callback`, alive as long as the
    // context that calls this.
    let watch = unsafe { &*data.cast::<AbortWatch>() };
    watch.should_abort()
}

// `LlamaContextParams` is one field, the raw struct: equal sizes mean that field is all of it.
const _: () = assert!(size_of::<LlamaContextParams>() == size_of::<llama_context_params>());

/// `params` with `watch` as the abort callback of the context made from them.
pub fn with_abort_callback(params: LlamaContextParams, watch: &AbortWatch) -> LlamaContextParams {
    // SAFETY: same size and a single field (asserted above), so the bytes are the raw struct;
    // the pointer written here stays valid as long as `watch`, which outlives the context.
    let mut raw: llama_context_params = unsafe { std::mem::transmute(params) };
    raw.abort_callback = Some(should_abort);
    raw.abort_callback_data = std::ptr::from_ref(watch).cast_mut().cast::<c_void>();
    unsafe { std::mem::transmute::<llama_context_params, LlamaContextParams>(raw) }
}
