//! libFuzzer entry point for [`wreg_fuzz::check::dependency_file`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wreg_fuzz::check::dependency_file(data));
