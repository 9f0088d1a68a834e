//! Compiles proto/planledger/v1/ledger.proto with protox (pure Rust), so the build needs no
//! system `protoc`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../../proto");
    let fds = protox::compile(["planledger/v1/ledger.proto"], ["../../proto"])?;
    tonic_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::codec::ProtoCodec")
        .compile_fds(fds)?;
    Ok(())
}
