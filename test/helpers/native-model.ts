/** The addon's own model object behind a loaded Model, for tests that go below the TypeScript checks. */

import type { Model } from '../../lib/model';
import { loadModel } from '../../lib/model';
import { native } from '../../lib/native';
import type { NativeBertModel } from '../../lib/native-types';

/** Loads `dir` and returns the Model with the NativeBertModel the loader made for it. */
export async function loadWithNative(dir: string): Promise<{ model: Model; handle: NativeBertModel }> {
  const Original = native.NativeBertModel;
  let made: NativeBertModel | undefined;
  native.NativeBertModel = class extends Original {
    constructor(config: ConstructorParameters<typeof Original>[0]) {
      super(config);
      made = this;
    }
  };
  try {
    const model = await loadModel(dir);
    return { model, handle: made! };
  } finally {
    native.NativeBertModel = Original;
  }
}
