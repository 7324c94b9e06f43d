/**
 * Every component's props as a zod schema, parsed in the component: a page passing the wrong shape fails the
 * build with a message naming the component and the prop, instead of rendering a broken page.
 */
import { z } from 'zod';
import { Asset, Manifest } from '../manifest/schema.ts';

export function parseProps<T extends z.ZodTypeAny>(component: string, schema: T, props: unknown): z.infer<T> {
  const r = schema.safeParse(props);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new Error(`<${component}>: prop ${issue.path.join('.') || '(props)'}: ${issue.message}`);
  }
  return r.data;
}

/** Astro passes a parent's scoped-style class to child components. */
const scopedClass = { class: z.string().optional() };

export const FigureProps = z.object({
  ...scopedClass,
  asset: Asset,
  caption: z.string().optional(),
  eager: z.boolean().default(false),
  id: z.string().regex(/^[A-Za-z][\w-]*$/).optional(),
  /** Link the image to its full-size file (off inside another link). */
  link: z.boolean().default(true),
}).strict();

export const ReportLinkProps = z.object({
  ...scopedClass,
  /** The model's slug; the link is drawn only when this report has that model. */
  model: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  /** A section of the model page, e.g. 'localization'. */
  section: z.string().regex(/^[a-z][a-z0-9-]*$/).optional(),
  /** Defaults to the report's manifest. */
  manifest: Manifest.optional(),
}).strict();

export const ArchitectureProps = z.object({
  ...scopedClass,
  layers: z.array(z.object({
    name: z.string(),
    slug: z.string().regex(/^[a-z0-9-]+$/),
    className: z.string(),
    outputShape: z.array(z.number().nullable()),
    inbound: z.array(z.string()),
    /** The nested models the layer sits in, outermost first (drawn as labelled frames). */
    parents: z.array(z.string()).default([]),
  }).passthrough()).min(1),
  /** [/<site base>]/models/<model>: node links are `${base}/layers/<slug>/`. */
  base: z.string().regex(/^(\/[A-Za-z0-9._~-]+)*\/models\/[a-z0-9-]+$/),
  title: z.string().min(1),
}).strict();

export const ModelCardsProps = z.object({
  ...scopedClass,
  /** Defaults to the report's manifest. */
  manifest: Manifest.optional(),
}).strict();

export const MethodExamplesProps = z.object({
  ...scopedClass,
  /** A method id of the manifest (saliency, grad-cam, …). */
  method: z.string().regex(/^[a-z0-9-]+$/),
  manifest: Manifest.optional(),
}).strict();

export const TrustSummaryProps = z.object({
  ...scopedClass,
  manifest: Manifest.optional(),
}).strict();
