/**
 * Making images present on the engines of a pool: the base sandbox image before an engine serves,
 * the environment images in the background. An image missing on an engine, or different there
 * from another engine's, is copied from the image source or from another engine that answers.
 */
import type { Logger } from 'pino';
import { hgymError } from '../env/errors.js';
import type { ContainerEngine } from './engine.js';
import type { EngineState } from './pool-state.js';

export interface ImagePresenceOptions {
  /** The pool's engines: those that answer are the copy sources of one another. */
  engines: readonly EngineState[];
  /** Tried first as a copy source: the engine images are built on. */
  imageSource: ContainerEngine | null;
  /** The environment images copyEnvironments makes present. */
  environmentImages: readonly string[];
  log: Logger;
}

export class ImagePresence {
  constructor(private readonly options: ImagePresenceOptions) {}

  /**
   * Makes `image` present on an engine, once: copied from another engine (or the image source)
   * when it is missing there or differs from theirs. A failed copy is tried again next time.
   */
  ensure(e: EngineState, image: string): Promise<void> {
    let present = e.present.get(image);
    if (!present) {
      present = this.copy(e, image);
      e.present.set(image, present);
      present.catch(() => e.present.delete(image));
    }
    return present;
  }

  private async copy(e: EngineState, image: string): Promise<void> {
    const { engines, imageSource, log } = this.options;
    const here = await e.engine.imageId(image);
    const sources = [...(imageSource ? [imageSource] : []), ...engines.filter((o) => o !== e && o.up).map((o) => o.engine)];
    for (const source of sources) {
      const id = await source.imageId(image).catch(() => null);
      if (id === null) continue;
      if (id === here) return;
      log.info({ engine: e.engine.name, from: source.name, image }, 'copying the image to an engine');
      await e.engine.loadImage(await source.exportImage(image));
      return;
    }
    if (here === null) throw hgymError('HGYM_ERR_IMAGE_MISSING', image);
  }

  /** Copies the environment images to an engine in the background; a failure is logged and tried again at acquire. */
  copyEnvironments(e: EngineState): void {
    for (const image of this.options.environmentImages) {
      this.ensure(e, image).catch((err: unknown) => this.options.log.warn({ err, engine: e.engine.name, image }, 'making an environment image present failed'));
    }
  }
}
