// The BERT encoder binding: being written (see native/include/fffbert/bert.h).
#include "common.h"

namespace fffbert_napi {
void init_model(Napi::Env, Napi::Object, AddonData*) {}
}  // namespace fffbert_napi
