// How the native binary is named and found (pkg-prebuilds): prebuilds/<platform>-<arch>/fffbert.<libc>.node-napi.v8.node
// when installed from a package with prebuilt binaries, build/Release/fffbert.node after a source build.
module.exports = {
  name: 'fffbert',
  napi_versions: [8],
};
