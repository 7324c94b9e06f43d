/** The idea behind each attribution method, in two sentences, and the caveat to keep in mind. */
export const METHOD_TEXT: Record<string, { idea: string; caveat: string }> = {
  saliency: {
    idea: 'How much would the class score change if this pixel changed a little? The absolute gradient of the score with respect to the input, strongest channel per pixel.',
    caveat: 'Gradients are local and noisy: they show sensitivity, not evidence, and saturated features get no credit.',
  },
  'gradient-input': {
    idea: 'The gradient multiplied by the input: a first-order estimate of each pixel’s contribution to the score. Signed — red pushes the class up, blue down.',
    caveat: 'Black pixels (value 0) always get zero attribution, whatever the model does with them.',
  },
  'guided-backprop': {
    idea: 'Backpropagation in which every ReLU passes only positive gradients, giving sharp, edge-like maps.',
    caveat: 'Sanity checks (Adebayo et al. 2018) show the maps hardly change when the weights are randomised: they reconstruct the image more than they explain the decision.',
  },
  'smoothgrad-saliency': {
    idea: 'Average the saliency over many copies of the image with a little Gaussian noise: the noise of single gradients cancels out.',
    caveat: 'Smoother is not more faithful; the noise level is a free parameter.',
  },
  'integrated-gradients': {
    idea: 'Accumulate gradients along the straight path from a baseline image (black) to the input. The attributions add up to the score difference (completeness).',
    caveat: 'The baseline matters: features as dark as the baseline get no attribution.',
  },
  'grad-cam': {
    idea: 'Weight each channel of the last convolutional layer by its average gradient, sum, and keep the positive part: a coarse map of where the class evidence is.',
    caveat: 'Its resolution is the layer’s (7x7, 2x2, …); upsampling makes it look finer than it is.',
  },
  'grad-cam-plus-plus': {
    idea: 'Grad-CAM with per-position weights built from higher-order gradients, which covers several instances of a class better.',
    caveat: 'Same coarse resolution as Grad-CAM.',
  },
  'score-cam': {
    idea: 'Use each channel of the layer as a mask on the input and measure how much the class probability rises; weight channels by that score. No gradients.',
    caveat: 'One forward pass per channel: slow for wide layers (convlens caps the channels used).',
  },
  'guided-grad-cam': {
    idea: 'Guided backpropagation multiplied by the upsampled Grad-CAM: fine detail, restricted to the class’s region.',
    caveat: 'Inherits guided backprop’s weak dependence on the weights.',
  },
  occlusion: {
    idea: 'Cover a patch of the image and record how much the class probability drops; slide the patch over the whole image.',
    caveat: 'Depends on patch size and fill value; the blank patch itself is unlike anything in the training data.',
  },
};
