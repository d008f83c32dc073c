//! Which devices this machine can run: wgpu needs a Vulkan (or Metal, DX12) adapter at run
//! time, and a machine without a driver has none.

#[cfg(feature = "wgpu")]
use std::sync::OnceLock;

use burn::tensor::Device;
#[cfg(feature = "wgpu")]
use burn::tensor::{DeviceKind, Tensor};

/// The wgpu device if this machine has an adapter for it (a GPU, or Mesa's software Vulkan),
/// else `None`. The first call probes once, on a thread of its own, because Burn's wgpu runtime
/// panics when it finds no adapter; later calls return the cached answer.
///
/// ```
/// match medburn_core::wgpu_device() {
///     Some(device) => println!("wgpu on {device:?}"),
///     None => println!("no wgpu adapter: CPU only"),
/// }
/// ```
pub fn wgpu_device() -> Option<Device> {
    #[cfg(feature = "wgpu")]
    {
        static PROBE: OnceLock<bool> = OnceLock::new();
        let ok = *PROBE.get_or_init(|| {
            if !vulkan_driver_installed() {
                return false;
            }
            // The panic message of a failed probe would look like a crash: keep it quiet.
            let hook = std::panic::take_hook();
            std::panic::set_hook(Box::new(|_| {}));
            let ok = std::thread::spawn(|| {
                let device = Device::wgpu(DeviceKind::DefaultDevice);
                let x = Tensor::<1>::ones([2], &device);
                x.sum().into_scalar::<f32>() == 2.0
            })
            .join()
            .unwrap_or(false);
            std::panic::set_hook(hook);
            ok
        });
        ok.then(|| Device::wgpu(DeviceKind::DefaultDevice))
    }
    // A CPU-only build (`--no-default-features`) has no wgpu runtime to probe.
    #[cfg(not(feature = "wgpu"))]
    None
}

/// Why [`wgpu_device`] has nothing to give: the build, or the machine.
fn no_wgpu_reason() -> &'static str {
    if cfg!(feature = "wgpu") {
        "no wgpu adapter on this machine (no GPU driver; for Mesa's software Vulkan: apt-get \
         install mesa-vulkan-drivers)"
    } else {
        "this build has no wgpu (built without the `wgpu` feature)"
    }
}

/// On Linux, wgpu falls back to OpenGL (Mesa's llvmpipe through EGL) when no Vulkan driver is
/// installed, and the sampling kernels' atomics and cubic B-spline do not run right there:
/// without a Vulkan ICD (an installable client driver manifest), there is no wgpu device for
/// medburn. Elsewhere (Metal, DX12) the runtime probe decides.
#[cfg(feature = "wgpu")]
fn vulkan_driver_installed() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    if ["VK_ICD_FILENAMES", "VK_DRIVER_FILES"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty()))
    {
        return true;
    }
    let mut dirs = vec![
        "/usr/share/vulkan/icd.d".to_string(),
        "/usr/local/share/vulkan/icd.d".to_string(),
        "/etc/vulkan/icd.d".to_string(),
    ];
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(format!(
            "{}/.local/share/vulkan/icd.d",
            home.to_string_lossy()
        ));
    }
    dirs.iter().any(|d| {
        std::fs::read_dir(d).is_ok_and(|mut entries| {
            entries.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json")))
        })
    })
}

/// For tests that need wgpu: the device, or `None` after printing one line saying the test is
/// skipped because this machine has no adapter (install `mesa-vulkan-drivers` for Mesa's
/// software Vulkan).
///
/// ```
/// if let Some(device) = medburn_core::wgpu_device_or_skip("my_test") {
///     // ... run on `device`
/// }
/// ```
pub fn wgpu_device_or_skip(test: &str) -> Option<Device> {
    let device = wgpu_device();
    // One line per test, however often it asks.
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let first = SAID.lock().map_or(true, |mut said| {
        let new = !said.iter().any(|t| t == test);
        if new {
            said.push(test.to_string());
        }
        new
    });
    if device.is_none() && first {
        // Straight to stderr: the test harness captures `println!`, and a skip must be seen.
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "skipped {test}: {}", no_wgpu_reason());
    }
    device
}

/// The device a command-line name stands for: `cpu` (Flex), `wgpu` (any GPU, or Mesa's software
/// Vulkan), `cuda` (with the `cuda` feature). A name this build or machine cannot run is an
/// error that says why.
///
/// ```
/// assert!(medburn_core::device_by_name("cpu").is_ok());
/// assert!(medburn_core::device_by_name("tpu").unwrap_err().contains("unknown device"));
/// ```
pub fn device_by_name(name: &str) -> Result<Device, String> {
    match name {
        "cpu" | "flex" => Ok(Device::flex()),
        "wgpu" => wgpu_device().ok_or_else(|| format!("--device wgpu: {}", no_wgpu_reason())),
        #[cfg(feature = "cuda")]
        "cuda" => Ok(Device::cuda(0)),
        other => Err(format!(
            "unknown device {other:?}: use cpu, wgpu or cuda (cuda needs the `cuda` feature)"
        )),
    }
}
