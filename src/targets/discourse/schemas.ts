import { z } from 'zod';

/**
 * Shapes of the Discourse answers the target reads (reference §2). Only the fields used are
 * required; everything else passes through untouched, so newer Discourse versions that add
 * fields still validate.
 */

/** render_json_error: {"errors":[…], "error_type"?, "extras"?}. */
export const ErrorBodySchema = z
  .object({
    errors: z.array(z.string()).optional(),
    error_type: z.string().optional(),
    extras: z.object({ wait_seconds: z.number().optional() }).loose().optional(),
  })
  .loose();
export type ErrorBody = z.infer<typeof ErrorBodySchema>;

export const SiteSettingsSchema = z.object({
  site_settings: z.array(
    z.object({ setting: z.string(), value: z.union([z.string(), z.number(), z.boolean()]).nullable() }).loose(),
  ),
});

export const CategorySchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    slug: z.string(),
    parent_category_id: z.number().int().nullish(),
    read_restricted: z.boolean().optional(),
    topic_count: z.number().int().optional(),
    post_count: z.number().int().optional(),
    group_permissions: z.array(z.object({ permission_type: z.number().int(), group_name: z.string() }).loose()).optional(),
    topic_url: z.string().nullish(),
  })
  .loose();
export type Category = z.infer<typeof CategorySchema>;

export const CategoryResponseSchema = z.object({ category: CategorySchema }).loose();

export const CategoryListSchema = z.object({
  category_list: z.object({
    categories: z.array(CategorySchema.extend({ subcategory_list: z.array(CategorySchema).optional() })),
  }).loose(),
});

export const GroupSchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    watching_category_ids: z.array(z.number().int()).optional(),
    watching_first_post_category_ids: z.array(z.number().int()).optional(),
    tracking_category_ids: z.array(z.number().int()).optional(),
  })
  .loose();
export const GroupCreateSchema = z.object({ basic_group: GroupSchema }).loose();
export const GroupShowSchema = z.object({ group: GroupSchema }).loose();
export const GroupMembersSchema = z
  .object({
    members: z.array(z.object({ id: z.number().int(), username: z.string() }).loose()),
    meta: z.object({ total: z.number().int(), limit: z.number().int(), offset: z.number().int() }).loose().optional(),
  })
  .loose();

/** POST /users.json answers 200 whether or not it worked. */
export const UserCreateSchema = z
  .object({
    success: z.boolean(),
    active: z.boolean().optional(),
    message: z.string().optional(),
    user_id: z.number().int().optional(),
    errors: z.record(z.string(), z.array(z.string())).optional(),
  })
  .loose();

export const AdminUserSchema = z
  .object({
    id: z.number().int(),
    username: z.string(),
    email: z.string().optional(),
    active: z.boolean(),
    staged: z.boolean().optional(),
    suspended: z.boolean().optional(),
    admin: z.boolean().optional(),
    moderator: z.boolean().optional(),
  })
  .loose();
export type AdminUser = z.infer<typeof AdminUserSchema>;
export const AdminUserListSchema = z.array(AdminUserSchema);

export const UserShowSchema = z.object({ user: z.object({ id: z.number().int(), username: z.string(), admin: z.boolean().optional() }).loose() }).loose();

export const PostSchema = z
  .object({
    id: z.number().int(),
    topic_id: z.number().int(),
    post_number: z.number().int(),
    created_at: z.string(),
    username: z.string().nullish(),
    raw: z.string().optional(),
    reply_to_post_number: z.number().int().nullish(),
    post_url: z.string().optional(),
  })
  .loose();
export type Post = z.infer<typeof PostSchema>;

/** POST /posts.json: the post at the root, or the approval queue's answer. */
export const PostCreateSchema = z.union([
  z.object({ action: z.literal('enqueued') }).loose(),
  PostSchema,
]);

export const TopicSchema = z
  .object({
    id: z.number().int(),
    title: z.string(),
    slug: z.string(),
    category_id: z.number().int().nullish(),
    external_id: z.string().nullish(),
    posts_count: z.number().int(),
    post_stream: z.object({ stream: z.array(z.number().int()), posts: z.array(PostSchema).optional() }).loose(),
  })
  .loose();
export type Topic = z.infer<typeof TopicSchema>;

export const TopicPostsSchema = z.object({ post_stream: z.object({ posts: z.array(PostSchema) }).loose() }).loose();

export const UploadSchema = z
  .object({
    id: z.number().int(),
    url: z.string(),
    short_url: z.string(),
    original_filename: z.string(),
    filesize: z.number().int(),
    width: z.number().int().nullish(),
    height: z.number().int().nullish(),
  })
  .loose();
export type Upload = z.infer<typeof UploadSchema>;

export const PermalinkSchema = z
  .object({ id: z.number().int(), url: z.string() })
  .loose();
export const PermalinkListSchema = z.array(PermalinkSchema);
export const PermalinkCreateSchema = z.union([z.object({ permalink: PermalinkSchema }).loose(), PermalinkSchema]);

export const AnySchema = z.unknown();

/** {"success":"OK"} of updates. */
export const SuccessSchema = z.object({ success: z.union([z.string(), z.boolean()]) }).loose();

