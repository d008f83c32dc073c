//! The rotation-and-translation recovery example converges on a small volume.

#[path = "../examples/recover_rigid.rs"]
mod example;

#[test]
fn gradient_descent_recovers_a_known_rigid_motion() {
    let r = example::run(20, 150, &burn::tensor::Device::flex());
    println!("{r:?}");
    assert!(r.angle_error_deg < 0.5, "{r:?}");
    assert!(r.offset_error_mm < 0.2, "{r:?}");
    assert!(r.loss.1 < r.loss.0 * 1e-2, "{r:?}");
}

#[test]
fn gradient_descent_recovers_a_known_rigid_motion_on_wgpu() {
    let Some(device) = medburn_core::wgpu_device_or_skip("recover_rigid_on_wgpu") else {
        return;
    };
    let r = example::run(16, 150, &device);
    println!("{r:?}");
    assert!(r.angle_error_deg < 0.5, "{r:?}");
    assert!(r.offset_error_mm < 0.2, "{r:?}");
}
