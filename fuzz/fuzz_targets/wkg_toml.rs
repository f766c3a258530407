//! libFuzzer entry point for [`wreg_fuzz::check::wkg_toml`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wreg_fuzz::check::wkg_toml(data));
