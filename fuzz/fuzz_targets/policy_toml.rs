#![no_main]
//! libFuzzer binary of `gridmint_fuzz::policy_toml` (see that function for what it checks).

libfuzzer_sys::fuzz_target!(|data: &[u8]| gridmint_fuzz::policy_toml(data));
