import {
  CreateTemplateCommand,
  GetTemplateCommand,
  SESClient,
  Template,
  UpdateTemplateCommand,
} from '@aws-sdk/client-ses';
import { AppConfig } from '../config/app-config';
import { EmailContent, EMAIL_TEMPLATES } from '../adapters/email/email-templates';

export type TemplateAction = 'created' | 'updated' | 'unchanged';

const isNamed = (error: unknown, ...names: string[]) =>
  error instanceof Error && names.includes(error.name);

/** The SDK names it `TemplateDoesNotExistException`; SES's wire code is `TemplateDoesNotExist`. */
const isMissingTemplate = (error: unknown) => isNamed(error, 'TemplateDoesNotExistException', 'TemplateDoesNotExist');

function sesTemplate(name: string, content: EmailContent): Template {
  return { TemplateName: name, SubjectPart: content.subject, HtmlPart: content.html, TextPart: content.text };
}

function sameContent(stored: Template | undefined, wanted: Template): boolean {
  return (
    stored?.SubjectPart === wanted.SubjectPart && stored?.HtmlPart === wanted.HtmlPart && stored?.TextPart === wanted.TextPart
  );
}

/** Creates the template, or updates it when it exists and differs; a race with a concurrent run ends in an update. */
async function publishOne(client: SESClient, template: Template): Promise<TemplateAction> {
  let stored: Template | undefined;
  try {
    stored = (await client.send(new GetTemplateCommand({ TemplateName: template.TemplateName }))).Template;
  } catch (error) {
    if (!isMissingTemplate(error)) throw error;
    try {
      await client.send(new CreateTemplateCommand({ Template: template }));
      return 'created';
    } catch (createError) {
      if (!isNamed(createError, 'AlreadyExistsException', 'AlreadyExists')) throw createError;
    }
  }
  if (stored && sameContent(stored, template)) return 'unchanged';
  await client.send(new UpdateTemplateCommand({ Template: template }));
  return 'updated';
}

/**
 * Makes SES hold exactly the templates of `EMAIL_TEMPLATES` (SES v1 template API, the one
 * `SendTemplatedEmail` reads). One at a time: SES allows about one template call per second.
 */
export async function publishEmailTemplates(
  client: SESClient,
  templates: Record<string, EmailContent> = EMAIL_TEMPLATES,
  report: (name: string, action: TemplateAction) => void = () => undefined,
): Promise<{ name: string; action: TemplateAction }[]> {
  const done: { name: string; action: TemplateAction }[] = [];
  for (const [name, content] of Object.entries(templates)) {
    let action: TemplateAction;
    try {
      action = await publishOne(client, sesTemplate(name, content));
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      throw new Error(`template ${name}: ${reason}`, { cause: error });
    }
    report(name, action);
    done.push({ name, action });
  }
  return done;
}

/**
 * `node dist/cli/ses-templates.js`: a deploy step, run before the new code sends with the new
 * templates. Region and endpoint come from AWS_REGION / AWS_ENDPOINT_URL (LocalStack locally);
 * credentials from the SDK's default chain.
 */
async function main(): Promise<void> {
  const config = AppConfig.fromEnv();
  const client = new SESClient({
    region: config.aws.region,
    ...(config.aws.endpointUrl ? { endpoint: config.aws.endpointUrl } : {}),
  });
  try {
    await publishEmailTemplates(client, EMAIL_TEMPLATES, (name, action) => {
      process.stdout.write(`${name}: ${action}\n`);
    });
  } finally {
    client.destroy();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
