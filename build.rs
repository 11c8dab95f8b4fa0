//! Compiles `proto/` with protox (no system `protoc`), generates the tonic and
//! prost code, and writes the descriptor sets the transcoder and reflection
//! embed. The descriptor set is encoded by protox itself: re-encoding through
//! `prost_types` would drop the `google.api.http` options.

use std::{env, fs, path::PathBuf};

use prost::Message as _;

const SERVED: &[&str] = &[
    "identity/v1/auth.proto",
    "identity/v1/users.proto",
    "identity/v1/sessions.proto",
    "identity/v1/organizations.proto",
    "identity/v1/admin.proto",
    "identity/v1/oauth_provider.proto",
    "identity/v1/social.proto",
];
const TESTING: &[&str] = &["testing/v1/transcode.proto"];
/// Error detail messages, described by reflection only.
const RPC: &[&str] = &["google/rpc/error_details.proto", "google/rpc/status.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out = PathBuf::from(env::var("OUT_DIR")?);

    // Source info keeps the proto comments: operation summaries in the
    // generated OpenAPI document, descriptions in server reflection.
    let descriptor_bytes = protox::Compiler::new(["proto"])?
        .include_imports(true)
        .include_source_info(true)
        .open_files(SERVED)?
        .encode_file_descriptor_set();
    fs::write(out.join("identity_descriptor.bin"), &descriptor_bytes)?;

    let rpc_bytes = protox::Compiler::new(["proto"])?
        .include_imports(true)
        .include_source_info(true)
        .open_files(RPC)?
        .encode_file_descriptor_set();
    fs::write(out.join("rpc_descriptor.bin"), &rpc_bytes)?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .codec_path("crate::grpc::codec::IdentityCodec")
        .compile_fds(protox::compile(SERVED, ["proto"])?)?;

    let testing = protox::Compiler::new(["proto"])?
        .include_imports(true)
        .include_source_info(false)
        .open_files(TESTING)?
        .encode_file_descriptor_set();
    fs::write(out.join("testing_descriptor.bin"), &testing)?;
    let testing_fds = prost_types::FileDescriptorSet::decode(testing.as_slice())?;
    let testing_out = out.join("testing");
    fs::create_dir_all(&testing_out)?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(false)
        .out_dir(testing_out)
        .compile_fds(testing_fds)?;
    Ok(())
}
