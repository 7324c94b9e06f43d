/** What each kind of layer does, in plain words (shown on layer pages). Prose only: no tfjs here. */
export const LAYER_TEXT: Record<string, string> = {
  InputLayer: 'The input: the image as the model receives it, after scaling.',
  Conv2D:
    'A convolution slides small learned filters over its input. Each filter looks at a small window of every input channel at once and writes one number per position: how strongly that window matches the filter. Each output channel is one filter’s map; early layers find edges and colour blobs, deeper layers combine them into parts of objects.',
  DepthwiseConv2D:
    'A depthwise convolution filters each input channel on its own with a small kernel (no mixing between channels). MobileNets pair it with 1x1 convolutions that do the mixing, which is far cheaper than a full convolution.',
  SeparableConv2D: 'A depthwise convolution followed by a 1x1 (pointwise) convolution, in one layer.',
  BatchNormalization:
    'Batch normalisation rescales every channel to a steady mean and variance (learned scale γ and shift β), which keeps training stable. At inference it uses the moving averages collected during training, so it is a fixed per-channel affine map.',
  ReLU: 'ReLU keeps positive values and sets negative ones to zero (ReLU6 also caps them at 6). Zeros here are positions where a feature is absent.',
  Activation: 'Applies a fixed function element by element (ReLU, softmax, …).',
  MaxPooling2D:
    'Max pooling keeps the largest value in each window (usually 2x2): the map shrinks, a feature’s exact position matters less, and the next layer sees a wider part of the image.',
  AveragePooling2D: 'Average pooling keeps the mean of each window, shrinking the map.',
  GlobalAveragePooling2D: 'Averages each channel over all positions: one number per channel, whatever the image size.',
  ZeroPadding2D: 'Adds rows and columns of zeros around the map so that a following strided convolution covers the border.',
  Add: 'Adds its inputs element by element: the residual (shortcut) connection of MobileNetV2 and ResNets, which lets a block learn a correction to its input.',
  Flatten: 'Lays the 3-D map out as one long vector for the dense layers that follow; no numbers change.',
  Dense:
    'A dense (fully connected) layer computes weighted sums of all its inputs: each output unit is one learned combination. The last one produces one score per class.',
  Dropout: 'During training, randomly zeroes a fraction of its inputs so the network cannot rely on any single unit. At inference it does nothing.',
  Softmax: 'Turns scores into probabilities that sum to 1.',
};

export function layerText(className: string): string {
  return LAYER_TEXT[className] ?? `A ${className} layer.`;
}
