//! Where the model runs: the llama.cpp backends compiled in (Cargo features `vulkan`, `cuda`,
//! `metal`, `rocm`; CPU only by default), the devices they found, and how many layers go to a
//! GPU (`gpuLayers`: absent means all of them when there is a GPU, none otherwise).

use llama_cpp_2::{LlamaBackendDeviceType, list_llama_ggml_backend_devices};

/// The GPU backends this binary was built with (`infill --version` lists them).
pub fn compiled_gpu_backends() -> Vec<&'static str> {
    let mut backends = Vec::new();
    if cfg!(feature = "vulkan") {
        backends.push("vulkan");
    }
    if cfg!(feature = "cuda") {
        backends.push("cuda");
    }
    if cfg!(feature = "metal") {
        backends.push("metal");
    }
    if cfg!(feature = "rocm") {
        backends.push("rocm");
    }
    backends
}

/// A device llama.cpp can offload layers to: its name and description ("Vulkan0: llvmpipe").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuDevice {
    pub name: String,
    pub description: String,
}

/// The GPU devices llama.cpp's backends found (after the backend is initialised).
pub fn gpu_devices() -> Vec<GpuDevice> {
    list_llama_ggml_backend_devices()
        .into_iter()
        .filter(|device| {
            matches!(
                device.device_type,
                LlamaBackendDeviceType::Gpu
                    | LlamaBackendDeviceType::IntegratedGpu
                    | LlamaBackendDeviceType::Accelerator
            )
        })
        .map(|device| GpuDevice { name: device.name, description: device.description })
        .collect()
}

/// How many layers to offload, and a warning when the setting cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offload {
    /// Layers for llama.cpp (`u32::MAX`: all of them).
    pub layers: u32,
    pub warning: Option<String>,
}

impl Offload {
    /// Whether llama.cpp may also run operations on weights kept in CPU memory on the GPU
    /// (its context's `op_offload`): only when layers go there. llama.cpp's default is yes, even
    /// with no layers offloaded: a GPU build with `gpuLayers` 0 then still sends every prompt
    /// batch of 32 tokens or more to the GPU (measured on lavapipe: 38 s instead of 0.35 s for
    /// a 38-token prompt), while the placement says "CPU".
    pub fn host_ops_on_gpu(&self) -> bool {
        self.layers > 0
    }
}

/// `requested` is `gpuLayers` (`None`: automatic); `devices` the GPUs found.
pub fn offload(requested: Option<u32>, devices: &[GpuDevice]) -> Offload {
    match (requested, devices.is_empty()) {
        (None, true) | (Some(0), _) => Offload { layers: 0, warning: None },
        (None, false) => Offload { layers: u32::MAX, warning: None },
        (Some(layers), false) => Offload { layers, warning: None },
        (Some(layers), true) => {
            let why = if compiled_gpu_backends().is_empty() {
                "this infill was built without a GPU backend (build it with --features vulkan, \
                 cuda, metal or rocm)"
                    .to_string()
            } else {
                format!("no GPU was found by the {} backend", compiled_gpu_backends().join("/"))
            };
            Offload {
                layers: 0,
                warning: Some(format!("gpuLayers is {layers}, but {why}: running on the CPU")),
            }
        }
    }
}

/// Where the loaded model runs, for the user: "Vulkan0: llvmpipe, 25/25 layers" or
/// "CPU, 2 threads".
pub fn placement(
    offloaded: u32,
    model_layers: u32,
    devices: &[GpuDevice],
    threads: usize,
) -> String {
    match devices.first() {
        Some(device) if offloaded > 0 => {
            // llama.cpp offloads the output layer too: n_layer + 1 in all.
            let total = model_layers + 1;
            let on_gpu = offloaded.min(total);
            format!("{}: {}, {on_gpu}/{total} layers", device.name, device.description)
        }
        _ if threads == 1 => "CPU, 1 thread".to_string(),
        _ => format!("CPU, {threads} threads"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu() -> Vec<GpuDevice> {
        vec![GpuDevice { name: "Vulkan0".into(), description: "llvmpipe".into() }]
    }

    #[test]
    fn all_layers_go_to_a_gpu_unless_told_otherwise() {
        assert_eq!(offload(None, &gpu()), Offload { layers: u32::MAX, warning: None });
        assert_eq!(offload(Some(10), &gpu()), Offload { layers: 10, warning: None });
        assert_eq!(offload(Some(0), &gpu()), Offload { layers: 0, warning: None });
        assert_eq!(offload(None, &[]), Offload { layers: 0, warning: None });
    }

    #[test]
    fn no_layers_on_the_gpu_means_no_work_there_either() {
        assert!(offload(None, &gpu()).host_ops_on_gpu());
        assert!(offload(Some(10), &gpu()).host_ops_on_gpu());
        assert!(!offload(Some(0), &gpu()).host_ops_on_gpu());
        assert!(!offload(None, &[]).host_ops_on_gpu());
        assert!(!offload(Some(20), &[]).host_ops_on_gpu());
    }

    #[test]
    fn gpu_layers_without_a_gpu_run_on_the_cpu_with_a_reason() {
        let chosen = offload(Some(20), &[]);
        assert_eq!(chosen.layers, 0);
        let warning = chosen.warning.expect("a warning");
        assert!(warning.contains("gpuLayers is 20") && warning.contains("CPU"), "{warning}");
    }

    #[test]
    fn the_placement_says_where_the_model_runs() {
        assert_eq!(placement(u32::MAX, 24, &gpu(), 2), "Vulkan0: llvmpipe, 25/25 layers");
        assert_eq!(placement(10, 24, &gpu(), 2), "Vulkan0: llvmpipe, 10/25 layers");
        assert_eq!(placement(0, 24, &gpu(), 2), "CPU, 2 threads");
        assert_eq!(placement(0, 24, &[], 4), "CPU, 4 threads");
        assert_eq!(placement(0, 24, &[], 1), "CPU, 1 thread");
    }
}
