import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';
import { codeForStatus, titleForStatus } from './problem';

export class FieldErrorDto {
  @ApiProperty({ example: 'password' })
  field: string;

  @ApiProperty({ example: 'password must be longer than or equal to 12 characters' })
  message: string;
}

/** RFC 9457 problem document, as every error is answered (`application/problem+json`). */
export class ProblemDocumentDto {
  @ApiProperty({ example: 'urn:tickr:problem:validation-failed' })
  type: string;

  @ApiProperty({ example: 'Bad Request' })
  title: string;

  @ApiProperty({ example: 400 })
  status: number;

  @ApiProperty({ example: 'The request is not valid.' })
  detail: string;

  @ApiProperty({ example: 'VALIDATION_FAILED', description: 'Stable machine-readable error code' })
  code: string;

  @ApiProperty({ example: '4f0c1c8e-2b1f-4a53-9a55-3c5d0e0f6a11' })
  requestId: string;

  @ApiPropertyOptional({ type: [FieldErrorDto] })
  errors?: FieldErrorDto[];
}

/** A status answered with a problem document, and the `code`s it can carry there. */
export type ProblemSpec = number | [status: number, ...codes: string[]];

export function ApiProblems(...specs: ProblemSpec[]) {
  return applyDecorators(
    ...specs.map((spec) => {
      const [status, ...codes] = Array.isArray(spec) ? spec : [spec, codeForStatus(spec)];
      return ApiResponse({
        status,
        description: `${titleForStatus(status)}: ${codes.join(', ')}`,
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/ProblemDocumentDto' } } },
      });
    }),
  );
}
