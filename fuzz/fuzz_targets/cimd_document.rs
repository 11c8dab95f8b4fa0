#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| identityd::fuzzing::cimd_document(data));
