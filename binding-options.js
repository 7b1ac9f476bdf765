// How the native binary is named and found (pkg-prebuilds): prebuilds/fffbert-<platform>-<arch>[-musl]/node-napi-v8.node
// in a package with prebuilt binaries; build/Release/fffbert.node after a source build (preferred when present).
module.exports = {
  name: 'fffbert',
  napi_versions: [8],
};
