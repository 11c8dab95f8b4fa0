//! What of `deploy/` the tests can check: Envoy transcodes with the
//! descriptor set `identityd descriptor-set` writes, and names services that
//! set really has.

use identityd::grpc::pb::FILE_DESCRIPTOR_SET;
use prost_reflect::DescriptorPool;

#[test]
fn envoy_names_the_services_of_the_written_descriptor_set() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("identity.pb");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_identityd"))
        .arg("descriptor-set")
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let written = std::fs::read(&path).unwrap();
    assert_eq!(written, FILE_DESCRIPTOR_SET);
    let pool = DescriptorPool::decode(written.as_slice()).unwrap();

    let envoy =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/envoy.yaml")).unwrap();
    assert!(envoy.contains("proto_descriptor: /descriptors/identity.pb"));
    let named: Vec<&str> = envoy
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- identity.v1."))
        .collect();
    let served: Vec<String> = pool
        .services()
        .map(|s| s.full_name().to_owned())
        .filter(|n| n.starts_with("identity.v1."))
        .collect();
    assert_eq!(named.len(), served.len(), "envoy.yaml lists every service");
    for name in named {
        assert!(
            pool.get_service_by_name(&format!("identity.v1.{name}"))
                .is_some(),
            "{name} is not in the descriptor set"
        );
    }
    let compose =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/compose.yaml"))
            .unwrap();
    assert!(compose.contains(r#"command: ["descriptor-set", "/descriptors/identity.pb"]"#));
}
