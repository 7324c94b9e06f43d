/**
 * Every view of the visualize step, in the order they run (a view may read what an earlier one wrote: the
 * dataset examples attach to the layer views). A new view is a file in this folder, a line here, a test, and the
 * page section that renders what it writes.
 */
import { attributionsView } from './attributions.ts';
import { classImagesView } from './class-images.ts';
import { datasetExamplesView } from './dataset-examples.ts';
import { layersView } from './layers.ts';
import { localizationView } from './localization.ts';
import { randomizationView } from './randomization.ts';
import type { View } from './types.ts';

export const VIEWS: readonly View[] = [attributionsView, localizationView, layersView, datasetExamplesView, randomizationView, classImagesView];
